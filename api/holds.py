"""Seat holds: while a person's registration is filled in, the chosen seat is set aside.

A hold counts against the slot's capacity at once (one conditional UPDATE) and
is released by its own workflow's durable timer after CVMS_SEAT_HOLD_SECONDS
unless a booking takes it first (POST /appointments with `hold_id`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.appointments import bookable
from api.deps import Reader, RecordId, Scheduler, SessionDep, SettingsDep, TemporalDep
from api.errors import Conflict, NotFound
from api.slots import SlotDep, require_scheduling
from domain.scheduling import HoldPurpose, HoldStatus, SeatHoldInput, hold_workflow_id
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.holds import SeatHold, hold_seat
from records.scheduling import Slot
from services.temporal import TemporalGateway
from workflows.waitlist import SeatHoldWorkflow

router = APIRouter(tags=["seat holds"])


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slot_id: int
    purpose: str
    status: str
    expires_at: datetime


async def load_hold(hold_id: RecordId, actor: Reader, db: SessionDep) -> SeatHold:
    """A hold at the active location; another location's is a 404."""
    hold = (
        await db.execute(
            select(SeatHold).where(SeatHold.id == hold_id, SeatHold.location_id == actor.location.id)
        )
    ).scalar_one_or_none()
    if hold is None:
        raise NotFound("no such seat hold at this location")
    return hold


HoldDep = Annotated[SeatHold, Depends(load_hold)]


async def place_hold(
    db: AsyncSession, temporal: TemporalGateway, settings: Settings, *, slot: Slot, held_by: str
) -> SeatHold:
    """Shared by staff and the recipient's booking link: sets one seat of the slot aside for
    CVMS_SEAT_HOLD_SECONDS, with the workflow whose timer gives it back (409 when full)."""
    bookable(slot)
    hold = await hold_seat(
        db,
        slot,
        purpose=HoldPurpose.registration,
        expires_at=utcnow() + timedelta(seconds=settings.seat_hold_seconds),
        held_by=held_by,
    )
    if hold is None:
        raise Conflict("This slot is full; choose another.", code="slot_full", slot_id=slot.id)
    audit(
        db,
        actor=held_by,
        location_id=slot.location_id,
        entity="seat_hold",
        entity_id=hold.id,
        action="hold",
        changes={"slot_id": [None, slot.id], "expires_at": [None, hold.expires_at.isoformat()]},
    )
    # Started before the hold commits: if the commit fails, the timer finds no hold and does nothing;
    # a hold is therefore never left without the timer that releases it.
    await temporal.start(
        SeatHoldWorkflow.run, SeatHoldInput(hold.id, hold.expires_at), workflow_id=hold_workflow_id(hold.id)
    )
    return hold


async def give_back(temporal: TemporalGateway, hold: SeatHold) -> None:
    """Asks the hold's workflow to release the seat now (a hold that ended stays as it is)."""
    if hold.purpose != HoldPurpose.registration:
        raise Conflict("a waitlist offer's seat is released when the offer runs out", code="not_registration")
    if hold.status == HoldStatus.held:
        await temporal.signal(hold_workflow_id(hold.id), SeatHoldWorkflow.release)


@router.post("/slots/{slot_id}/holds", response_model=HoldOut, status_code=201)
async def hold_a_seat(
    slot_id: RecordId,
    actor: Scheduler,
    slot: SlotDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> HoldOut:
    """Sets a seat aside for CVMS_SEAT_HOLD_SECONDS while the person registers (409 when full)."""
    require_scheduling(actor.location)
    hold = await place_hold(db, temporal, settings, slot=slot, held_by=actor.actor)
    return HoldOut.model_validate(hold)


@router.get("/holds/{hold_id}", response_model=HoldOut)
async def read_hold(hold_id: RecordId, actor: Reader, hold: HoldDep) -> HoldOut:
    return HoldOut.model_validate(hold)


@router.post("/holds/{hold_id}/release", response_model=HoldOut, status_code=202)
async def release_a_hold(
    hold_id: RecordId, actor: Scheduler, hold: HoldDep, temporal: TemporalDep
) -> HoldOut:
    """Gives the seat back now (its workflow releases it and tells the waitlist)."""
    await give_back(temporal, hold)
    return HoldOut.model_validate(hold)
