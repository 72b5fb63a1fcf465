"""The agent's phone page: find the caller's account (or fill in a new caller) and open a case
for them with the call notes and any attachments (services.helpdesk_phone)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import AgentDep, SessionDep, SettingsDep, TemporalDep
from api.helpdesk.pages import AgentPageRoute, _page
from api.helpdesk.schemas import CallerOut, CategoryOut, PhoneCaseIn
from api.pages.csrf import CheckedForm
from api.pages.form_files import form_files
from api.pages.i18n import N_
from api.pages.rendering import field_errors, redirect
from domain.refusals import Refusal
from services import helpdesk_intake, helpdesk_phone

router = APIRouter(prefix="/helpdesk/agent", route_class=AgentPageRoute, include_in_schema=False)

FIELDS = (
    "caller_email",
    "first_name",
    "last_name",
    "preferred_language",
    "topic",
    "subject",
    "call_notes",
    "contact_phone",
)
# What the phone service says, as the page shows it; listed so the catalog translates it.
SERVICE_MESSAGES = [
    N_("the caller has no help-desk account: give their first and last name to register them"),
]
# Refusal codes shown beside the field they are about.
REFUSAL_FIELDS = {
    "caller_name_needed": "first_name",
    "attachment_type": "attachments",
    "attachment_size": "attachments",
    "attachment_empty": "attachments",
}


async def _phone_page(
    request: Request,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    *,
    form: dict[str, str],
    errors: dict[str, str],
    query: str = "",
    status_code: int = 200,
) -> Response:
    found = await helpdesk_phone.find_requesters(db=db, query=query) if len(query.strip()) >= 2 else []
    return _page(
        request,
        "help/agent_phone.html",
        time_zone=settings.helpdesk_time_zone,
        status_code=status_code,
        agent=agent,
        categories=[CategoryOut.of(c) for c in await helpdesk_intake.categories(db=db)],
        form=form,
        errors=errors,
        query=query,
        callers=[CallerOut.of(r) for r in found],
        searched=bool(query.strip()),
    )


@router.get("/phone")
async def phone_page(
    request: Request,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    q: str = "",
    caller_email: str = "",
) -> Response:
    return await _phone_page(
        request, agent, db, settings, form={"caller_email": caller_email[:254]}, errors={}, query=q[:200]
    )


@router.post("/phone")
async def phone_submit(
    request: Request,
    agent: AgentDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    category, _sep, topic = values["topic"].partition("/")
    given: dict[str, Any] = {**values, "category": category, "topic": topic}
    try:
        body = PhoneCaseIn(**{**given, "preferred_language": values["preferred_language"] or "en"})
        opened = await helpdesk_phone.open_phone_case(
            db=db,
            settings=settings,
            temporal=temporal,
            agent=agent.agent,
            actor=agent.actor,
            caller=helpdesk_phone.Caller(
                email=str(body.caller_email),
                first_name=body.first_name,
                last_name=body.last_name,
                preferred_language=body.preferred_language,
            ),
            category=body.category,
            topic=body.topic,
            subject=body.subject,
            call_notes=body.call_notes,
            contact_phone=body.contact_phone,
            files=await form_files(form),
        )
    except (ValidationError, Refusal) as exc:
        if isinstance(exc, ValidationError):
            errors = field_errors(exc)
        else:
            errors = {REFUSAL_FIELDS.get(exc.code or "", "topic"): exc.message}
        return await _phone_page(request, agent, db, settings, form=values, errors=errors, status_code=422)
    notice = "phone_case_registered" if opened.registered else "phone_case_opened"
    return redirect(f"/helpdesk/agent/cases/{opened.case.number}?notice={notice}")
