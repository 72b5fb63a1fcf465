"""The series' JSON reads, and the request headers and sessions the series routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import Reader, SessionDep, SettingsDep, TemporalDep, get_sessions
from api.errors import NotFound
from domain.journey_messages import journey_id
from records.journeys import Journey
from records.recipients import Recipient
from services.journeys import current_series, end_transaction, journey_snapshot, query_view
from workflows.journey import JourneyView

router = APIRouter(tags=["journeys"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=120,
        description="Send the same key when retrying a request: it takes effect once.",
    ),
]


# For reading what the workflow wrote: the request's own transaction ended before the update.
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


@router.get("/recipients/{recipient_id}/journey", response_model=JourneyView)
async def read_journey(
    recipient_id: int, actor: Reader, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> JourneyView:
    """The current (or last) series, from its workflow: doses, appointment, what it waits for next."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    jid, series_no = await current_series(db, recipient_id)
    if await db.get(Journey, jid) is None and series_no > 1:
        series_no -= 1
        jid = journey_id(recipient_id, series_no)
    snapshot = await journey_snapshot(db, settings, recipient_id, series_no)
    await end_transaction(db)
    view = await query_view(temporal, jid)
    if view is not None:
        return view
    if not snapshot.doses and snapshot.appointment is None:
        raise NotFound("this recipient has no dose series yet")
    rule = snapshot.rule
    return JourneyView(
        journey_id=jid,
        recipient_id=recipient_id,
        series_no=series_no,
        product_code=rule.code if rule else None,
        product_version=rule.version if rule else None,
        doses_required=rule.doses if rule else None,
        doses=snapshot.doses,
        appointment=snapshot.appointment,
        complete=bool(rule and len(snapshot.doses) >= rule.doses),
        next_dose_number=None,
        next_dose_earliest=None,
        next_dose_latest=None,
        next_event=None,
        next_event_at=None,
    )
