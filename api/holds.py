"""Seat holds: while a person's registration is filled in, the chosen seat is set aside.

A hold counts against the slot's capacity at once (one conditional UPDATE) and
is released by its own workflow's durable timer after CVMS_SEAT_HOLD_SECONDS
unless a booking takes it first (POST /appointments with `hold_id`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.deps import Reader, RecordId, Scheduler, SessionDep, SettingsDep, TemporalDep
from api.errors import NotFound
from api.slots import SlotDep
from records.holds import SeatHold
from services.scheduling import give_back, place_hold, require_scheduling

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
