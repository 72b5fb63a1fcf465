"""The agent workspace pages: the queue (search, filters by team, assignee, priority, state and
SLA, sorting, pages; "my cases" one click) and the case page (one reply box, public or internal,
with macros filled server-side; reassign, priority, team; a timeline of every event; who else has
the case open), and the administrators' macro page.

They call the same services as the JSON routes (`services.helpdesk`, `services.helpdesk_desk`)."""

from __future__ import annotations

from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import AgentDep, RecordId, SessionDep, SettingsDep, TemporalDep
from api.errors import Unprocessable
from api.helpdesk.deps import TeamCase
from api.helpdesk.pages import CASE_STATES, SLA_BADGES, AgentPageRoute, help_page
from api.helpdesk.schemas import AgentCaseOut, QueueItem
from api.pages.csrf import CheckedForm
from api.pages.form_files import form_files
from api.pages.i18n import N_
from api.pages.rendering import PAGE_SIZE, redirect
from domain.refusals import Refusal
from domain.sla import PRIORITIES
from services import helpdesk, helpdesk_desk, helpdesk_views
from services.helpdesk_views import QUEUE_SORTS, QueueSort, SlaStatus

agent_router = APIRouter(prefix="/helpdesk/agent", route_class=AgentPageRoute, include_in_schema=False)

PRIORITY_NAMES = {
    "urgent": N_("Urgent"),
    "high": N_("High"),
    "normal": N_("Normal"),
    "low": N_("Low"),
}
SORT_NAMES = {
    "urgency": N_("Most urgent first"),
    "priority": N_("Highest priority first"),
    "newest": N_("Newest first"),
    "oldest": N_("Oldest first"),
    "updated": N_("Recently updated"),
}
ASSIGNEE_CHOICES = {"": N_("Anyone"), "me": N_("Me"), "none": N_("Unassigned")}
THEN_NAMES = {"": N_("Keep the status"), "pending": N_("Wait on the requester"), "resolved": N_("Resolve")}
# The timeline's words for each event kind (a kind not listed is shown as it is).
EVENT_NAMES = {
    "created": N_("Case opened"),
    "assigned": N_("Assigned"),
    "note": N_("Note"),
    "first_response": N_("First response given"),
    "pending": N_("Waiting on the requester"),
    "open": N_("Set open"),
    "resolved": N_("Resolved"),
    "reopened": N_("Reopened"),
    "closed": N_("Closed"),
    "priority": N_("Priority changed"),
    "breach": N_("SLA breached"),
    "team": N_("Moved to another team"),
    "merged_in": N_("A duplicate case was merged in"),
    "merged": N_("Merged into another case"),
    "linked": N_("Related case linked"),
}
DESK_NOTICES = {
    "replied": N_("Your reply is saved."),
    "reassigned": N_("The case is assigned."),
    "priority": N_("The priority is changed."),
    "team": N_("The case is moved to the other team."),
    "macro_saved": N_("The macro is saved."),
    "merged": N_("The duplicate is merged into this case; its requester is emailed."),
    "linked": N_("The cases are linked."),
    "macro_deleted": N_("The macro is deleted."),
}


def _desk_page(request: Request, template: str, *, settings: Any, **context: Any) -> Response:
    return help_page(
        request,
        template,
        time_zone=settings.helpdesk_time_zone,
        extra_notices=DESK_NOTICES,
        priority_names=PRIORITY_NAMES,
        **context,
    )


@agent_router.get("/queue")
async def queue_page(
    request: Request,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200)] = "",
    state: str = "",
    sla: str = "",
    priority: str = "",
    assignee: str = "",
    team: str = "",
    sort: str = "urgency",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """My teams' cases, searched and filtered, in the chosen order, a page at a time."""
    # Unknown choices are ignored (a hand-edited address still shows the queue).
    team_id = _number(team)
    team_id = team_id if team_id in agent.team_ids else None
    assignee = assignee if assignee in ASSIGNEE_CHOICES else ""
    sort = sort if sort in QUEUE_SORTS else "urgency"
    ordered = await helpdesk_views.queue_in_order(
        db=db,
        agent=agent.agent,
        team_ids=agent.team_ids,
        state=[state] if state in dict(CASE_STATES) else None,
        sla=[cast(SlaStatus, sla)] if sla in SLA_BADGES else None,
        priority=[priority] if priority in PRIORITIES else None,
        assignee=assignee or None,
        search=q,
        team_id=team_id,
        sort=cast(QueueSort, sort),
    )
    shown = ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    filters = {"q": q, "state": state, "sla": sla, "priority": priority, "assignee": assignee}
    filters |= {"team": str(team_id or ""), "sort": sort}
    return _desk_page(
        request,
        "help/queue.html",
        settings=settings,
        agent=agent,
        teams=await helpdesk_views.agent_teams(db=db, team_ids=agent.team_ids),
        items=[QueueItem.of_entry(await helpdesk_views.queue_entry(db, c, s)) for c, s in shown],
        filters=filters,
        sorts=SORT_NAMES,
        assignees=ASSIGNEE_CHOICES,
        total=len(ordered),
        page=page,
        page_size=PAGE_SIZE,
        pager_base=f"/helpdesk/agent/queue?{urlencode(filters)}",
    )


@agent_router.get("/cases/{number}")
async def agent_case_page(
    request: Request,
    number: int,
    case: TeamCase,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    macro: Annotated[int | None, Query()] = None,
) -> Response:
    """The case with its one reply box; `macro` fills the box with that macro (works without JS)."""
    fill = (
        await helpdesk_desk.fill_macro(db=db, case=case, agent=agent.agent, macro_id=macro) if macro else None
    )
    # Choosing a macro is starting a reply: the other agents are told.
    others = await helpdesk_desk.mark_present(
        db=db, settings=settings, case=case, agent=agent.agent, replying=fill is not None
    )
    detail = await helpdesk_views.agent_case_detail(db=db, case=case)
    return _desk_page(
        request,
        "help/agent_case.html",
        settings=settings,
        agent=agent,
        case=AgentCaseOut.of_detail(detail),
        others=others,
        # A beat three times per presence lifetime keeps this agent shown while the page is open.
        presence_every_ms=int(settings.helpdesk_presence_seconds * 1000 / 3),
        fill=fill,
        team_macros=await helpdesk_desk.team_macros(db=db, team_id=case.team_id),
        teammates=await helpdesk_desk.teammates(db=db, team_id=case.team_id),
        teams=await helpdesk_desk.teams(db=db),
        actors=await helpdesk_desk.actor_names(db, detail.events),
        event_names=EVENT_NAMES,
        related=await helpdesk_desk.related_cases(db=db, case=case),
        then_names=THEN_NAMES,
    )


def _text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


def _number(text: str) -> int | None:
    """A record id or case number typed or chosen in a form (None: not one)."""
    text = text.lstrip("#")
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) <= 9 else None


@agent_router.post("/cases/{number}/reply")
async def reply_submit(
    number: int,
    case: TeamCase,
    agent: AgentDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    body, then = _text(form, "body"), _text(form, "then")
    if not body and then != "pending":
        raise Unprocessable(N_("Write the reply first."))
    await helpdesk_desk.mark_present(db=db, settings=settings, case=case, agent=agent.agent, replying=False)
    await helpdesk_desk.agent_reply(
        case,
        actor=agent.actor,
        db=db,
        temporal=temporal,
        body=body[:20000],
        public=_text(form, "visibility") == "public",
        then=then,
        priority=_text(form, "priority"),
        files=await form_files(form),
        settings=settings,
    )
    return redirect(f"/helpdesk/agent/cases/{number}?notice=replied")


@agent_router.post("/cases/{number}/reassign")
async def reassign_submit(
    number: int, case: TeamCase, agent: AgentDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    chosen = _text(form, "agent_id")
    await helpdesk.assign(
        case,
        agent=agent.agent,
        actor=agent.actor,
        assignee_id=_number(chosen),
        db=db,
        temporal=temporal,
    )
    return redirect(f"/helpdesk/agent/cases/{number}?notice=reassigned")


@agent_router.post("/cases/{number}/priority")
async def priority_submit(
    number: int, case: TeamCase, agent: AgentDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    chosen = _text(form, "priority")
    if chosen not in PRIORITIES:
        raise Unprocessable(N_("Choose a priority."))
    await helpdesk.agent_act(
        case, "priority", agent=agent.agent, actor=agent.actor, db=db, temporal=temporal, priority=chosen
    )
    return redirect(f"/helpdesk/agent/cases/{number}?notice=priority")


@agent_router.post("/cases/{number}/team")
async def team_submit(
    number: int, case: TeamCase, agent: AgentDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    chosen = _number(_text(form, "team_id"))
    if chosen is None:
        raise Unprocessable(N_("Choose a team."))
    await helpdesk_desk.change_team(case, actor=agent.actor, team_id=chosen, db=db, temporal=temporal)
    # The case may have left my teams: the queue is where I go on from.
    if chosen not in agent.team_ids:
        return redirect("/helpdesk/agent/queue?notice=team")
    return redirect(f"/helpdesk/agent/cases/{number}?notice=team")


@agent_router.post("/cases/{number}/merge")
async def merge_submit(
    number: int, case: TeamCase, agent: AgentDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    into = _number(_text(form, "into"))
    if into is None:
        raise Unprocessable(N_("Give the number of the case to merge into."))
    await helpdesk_desk.merge(
        case, actor=agent.actor, into_number=into, team_ids=agent.team_ids, db=db, temporal=temporal
    )
    return redirect(f"/helpdesk/agent/cases/{into}?notice=merged")


@agent_router.post("/cases/{number}/links")
async def link_submit(
    number: int, case: TeamCase, agent: AgentDep, form: CheckedForm, db: SessionDep, temporal: TemporalDep
) -> Response:
    related = _number(_text(form, "related"))
    if related is None:
        raise Unprocessable(N_("Give the number of the related case."))
    await helpdesk_desk.link(
        case,
        actor=agent.actor,
        related_number=related,
        team_ids=agent.team_ids,
        db=db,
        temporal=temporal,
    )
    return redirect(f"/helpdesk/agent/cases/{number}?notice=linked")


# --- macro administration ---------------------------------------------------------------------------


@agent_router.get("/macros")
async def macros_page(request: Request, agent: AgentDep, db: SessionDep, settings: SettingsDep) -> Response:
    return _desk_page(
        request,
        "help/agent_macros.html",
        settings=settings,
        agent=agent,
        macro_list=await helpdesk_desk.all_macros(db=db),
        teams=await helpdesk_desk.teams(db=db),
        then_names=THEN_NAMES,
        form={},
        failed=None,
    )


@agent_router.post("/macros")
async def macro_submit(
    request: Request, agent: AgentDep, form: CheckedForm, db: SessionDep, settings: SettingsDep
) -> Response:
    values = {
        name: _text(form, name)
        for name in ("team_id", "name", "body_en", "body_es", "set_state", "set_priority")
    }
    try:
        team_id = _number(values["team_id"])
        if team_id is None or not (values["name"] and values["body_en"] and values["body_es"]):
            raise Unprocessable(N_("Give the macro a team, a name and its text in English and Spanish."))
        await helpdesk_desk.save_macro(
            db=db,
            agent=agent.agent,
            actor=agent.actor,
            macro_id=None,
            team_id=team_id,
            name=values["name"][:100],
            body_en=values["body_en"],
            body_es=values["body_es"],
            set_state=values["set_state"],
            set_priority=values["set_priority"],
            public=_text(form, "visibility") != "internal",
        )
    except Refusal as exc:
        response = _desk_page(
            request,
            "help/agent_macros.html",
            settings=settings,
            agent=agent,
            macro_list=await helpdesk_desk.all_macros(db=db),
            teams=await helpdesk_desk.teams(db=db),
            then_names=THEN_NAMES,
            form=values,
            failed=exc.message,
        )
        response.status_code = 403 if exc.code == "not_admin" else 422
        return response
    return redirect("/helpdesk/agent/macros?notice=macro_saved")


@agent_router.post("/macros/{macro_id}/delete")
async def macro_delete_submit(
    macro_id: RecordId, agent: AgentDep, form: CheckedForm, db: SessionDep
) -> Response:
    await helpdesk_desk.delete_macro(db=db, agent=agent.agent, actor=agent.actor, macro_id=macro_id)
    return redirect("/helpdesk/agent/macros?notice=macro_deleted")
