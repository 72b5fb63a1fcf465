"""The phone channel's JSON routes: an agent finds the caller's account, or opens a case for them
(registering the caller when they have none)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AgentDep, SessionDep, SettingsDep, TemporalDep
from api.helpdesk.schemas import CallerOut, CaseSummary, PhoneCaseIn, PhoneCaseOut
from services import helpdesk_phone, helpdesk_views
from services.helpdesk_files import Upload

router = APIRouter(prefix="/helpdesk/agent", tags=["help desk agents"])


@router.get("/requesters", response_model=list[CallerOut])
async def find_callers(
    agent: AgentDep, db: SessionDep, q: Annotated[str, Query(min_length=2, max_length=200)]
) -> list[CallerOut]:
    """Help-desk accounts whose email or name contains every word of `q` (at most 20)."""
    return [CallerOut.of(r) for r in await helpdesk_phone.find_requesters(db=db, query=q)]


@router.post("/phone-cases", status_code=201, response_model=PhoneCaseOut)
async def open_phone_case(
    body: PhoneCaseIn, agent: AgentDep, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> PhoneCaseOut:
    """Opens a case for a caller (channel phone, the call notes its description). A caller without
    an account is registered (first and last name needed) and emailed the link to choose a password;
    either way they get the "case received" email."""
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
        upload=Upload(**body.attachment.model_dump()) if body.attachment else None,
    )
    card = await helpdesk_views.card_of(db, opened.case)
    return PhoneCaseOut(
        **CaseSummary.of(card).model_dump(),
        requester_email=opened.requester.email,
        requester_registered=opened.registered,
    )
