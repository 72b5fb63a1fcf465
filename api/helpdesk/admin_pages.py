"""Help-desk administration pages: teams, agents, routing rules and the names of categories and
topics on one page, each change a form (administrators only; the services audit every change).
Macros have their own page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import AgentDep, SessionDep, SettingsDep, TemporalDep
from api.helpdesk.pages import AgentPageRoute, help_page
from api.helpdesk.schemas import CategoryOut
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import redirect
from domain.refusals import Invalid, Refusal
from services import helpdesk_admin, helpdesk_desk, helpdesk_intake

agent_router = APIRouter(prefix="/helpdesk/agent", route_class=AgentPageRoute, include_in_schema=False)

ADMIN_NOTICES = {
    "team_saved": N_("The team is saved."),
    "agent_saved": N_("The agent is saved."),
    "rule_saved": N_("The routing rule is saved."),
    "names_saved": N_("The names are saved."),
}


async def _admin_page(
    request: Request, agent: AgentDep, db: SessionDep, settings: SettingsDep, *, failed: str | None = None
) -> Response:
    helpdesk_admin.require_admin(agent.agent)
    response = help_page(
        request,
        "help/agent_admin.html",
        time_zone=settings.helpdesk_time_zone,
        extra_notices=ADMIN_NOTICES,
        agent=agent,
        teams=await helpdesk_desk.teams(db=db),
        agents=await helpdesk_admin.agents(db=db),
        rules=await helpdesk_intake.routing_rules(db=db),
        categories=[CategoryOut.of(c) for c in await helpdesk_intake.categories(db=db)],
        failed=failed,
    )
    if failed:
        response.status_code = 422
    return response


def _text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) <= 9 else None


def _team_ids(form: Any) -> list[int]:
    return [n for n in (_number(str(v)) for v in form.getlist("team_ids")) if n is not None]


@agent_router.get("/admin")
async def admin_page(request: Request, agent: AgentDep, db: SessionDep, settings: SettingsDep) -> Response:
    return await _admin_page(request, agent, db, settings)


async def _or_page(
    request: Request, agent: AgentDep, db: SessionDep, settings: SettingsDep, change: Any
) -> Response:
    """Runs the change; a refusal shows the page again with its message (nothing was changed)."""
    try:
        notice = await change()
    except Refusal as exc:
        if exc.code == "not_admin":
            raise
        return await _admin_page(request, agent, db, settings, failed=exc.message)
    return redirect(f"/helpdesk/agent/admin?notice={notice}")


@agent_router.post("/admin/teams")
async def team_submit(
    request: Request, agent: AgentDep, form: CheckedForm, db: SessionDep, settings: SettingsDep
) -> Response:
    async def change() -> str:
        chosen = _text(form, "team_id")
        await helpdesk_admin.save_team(
            db=db,
            agent=agent.agent,
            actor=agent.actor,
            team_id=_number(chosen),
            name=_text(form, "name")[:100],
            email=_text(form, "email")[:254],
            is_default=form.get("is_default") == "on",
        )
        return "team_saved"

    return await _or_page(request, agent, db, settings, change)


@agent_router.post("/admin/agents")
async def agent_submit(
    request: Request,
    agent: AgentDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    async def change() -> str:
        chosen = _text(form, "agent_id")
        agent_id = _number(chosen)
        if agent_id is not None:
            await helpdesk_admin.change_agent(
                db=db,
                agent=agent.agent,
                actor=agent.actor,
                agent_id=agent_id,
                display_name=_text(form, "display_name")[:200],
                is_admin=form.get("is_admin") == "on",
                is_active=form.get("is_active") == "on",
                team_ids=_team_ids(form),
            )
            return "agent_saved"
        login_name, email = _text(form, "login_name")[:80], _text(form, "email")[:254]
        if len(login_name) < 3 or "@" not in email:
            raise Invalid(N_("Give the agent's login name and email."))
        await helpdesk_admin.add_agent(
            db=db,
            settings=settings,
            temporal=temporal,
            agent=agent.agent,
            actor=agent.actor,
            login_name=login_name,
            email=email,
            first_name=_text(form, "first_name")[:100],
            last_name=_text(form, "last_name")[:100],
            display_name=_text(form, "display_name")[:200],
            is_admin=form.get("is_admin") == "on",
            team_ids=_team_ids(form),
            preferred_language="es" if _text(form, "preferred_language") == "es" else "en",
        )
        return "agent_saved"

    return await _or_page(request, agent, db, settings, change)


@agent_router.post("/admin/routing")
async def routing_submit(
    request: Request, agent: AgentDep, form: CheckedForm, db: SessionDep, settings: SettingsDep
) -> Response:
    async def change() -> str:
        category, _sep, topic = _text(form, "topic").partition("/")
        team = _number(_text(form, "team_id"))
        if team is None:
            raise Invalid(N_("Choose a team."))
        await helpdesk_intake.set_routing_rule(
            db=db,
            agent=agent.agent,
            actor=agent.actor,
            category=category,
            topic=topic or None,
            team_id=team,
        )
        return "rule_saved"

    return await _or_page(request, agent, db, settings, change)


@agent_router.post("/admin/names")
async def names_submit(
    request: Request, agent: AgentDep, form: CheckedForm, db: SessionDep, settings: SettingsDep
) -> Response:
    async def change() -> str:
        category, _sep, topic = _text(form, "topic").partition("/")
        await helpdesk_intake.set_names(
            db=db,
            agent=agent.agent,
            actor=agent.actor,
            category=category,
            topic=topic or None,
            name=_text(form, "name"),
            name_es=_text(form, "name_es"),
        )
        return "names_saved"

    return await _or_page(request, agent, db, settings, change)
