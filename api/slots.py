"""Slots: a location manager publishes capacity and closes it; anyone at the location lists it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Manager, Reader, SessionDep, SettingsDep, TemporalDep
from api.errors import Conflict, NotFound, Unprocessable
from api.stock_warnings import StockWarning, stock_warning
from domain.dose_rules import to_local
from domain.scheduling import Review
from records.audit import audit
from records.db import utcnow
from records.inventory import stock_by_product
from records.locations import Location
from records.products import current_product
from records.scheduling import Slot
from services.scheduling import day_bounds, require_scheduling
from services.waitlist import someone_waits, tell_waitlist_after_commit

router = APIRouter(prefix="/slots", tags=["slots"])


class SlotIn(BaseModel):
    start_at: AwareDatetime
    end_at: AwareDatetime
    capacity: int = Field(ge=1, le=10_000)
    product_code: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _ordered(self) -> SlotIn:
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class SlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int
    held: int
    seats_left: int
    product_code: str
    is_open: bool
    warnings: list[StockWarning] = Field(
        default_factory=list, description="e.g. no stock of the product on hand"
    )


def slot_out(slot: Slot) -> SlotOut:
    return SlotOut(
        id=slot.id,
        location_id=slot.location_id,
        start_at=slot.start_at,
        end_at=slot.end_at,
        capacity=slot.capacity,
        booked=slot.booked,
        held=slot.held,
        seats_left=max(slot.capacity - slot.booked - slot.held, 0) if slot.is_open else 0,
        product_code=slot.product_code,
        is_open=slot.is_open,
    )


async def load_slot(slot_id: int, actor: Reader, db: SessionDep) -> Slot:
    """A slot of the active location; another location's slot is a 404."""
    slot = (
        await db.execute(select(Slot).where(Slot.id == slot_id, Slot.location_id == actor.location.id))
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("no such slot at this location")
    return slot


SlotDep = Annotated[Slot, Depends(load_slot)]


@router.post("", response_model=SlotOut, status_code=201)
async def publish_slot(
    body: SlotIn, actor: Manager, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> SlotOut:
    """Publishes capacity; when people wait for this product here, its seats go to them first."""
    require_scheduling(actor.location)
    if body.end_at <= utcnow():
        raise Unprocessable(
            "this slot would already be over", errors=[{"field": "end_at", "message": "past"}]
        )
    if await current_product(db, body.product_code) is None:
        raise Unprocessable(
            f"unknown product {body.product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    slot = Slot(
        location_id=actor.location.id, created_by=actor.user.id, booked=0, is_open=True, **body.model_dump()
    )
    db.add(slot)
    await db.flush()
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="slot",
        entity_id=slot.id,
        action="publish",
        changes={k: [None, str(v)] for k, v in body.model_dump().items()},
    )
    if await someone_waits(db, slot.location_id, slot.product_code):
        tell_waitlist_after_commit(
            db, temporal, settings, slot.location_id, slot.product_code, Review("slot published", slot.id)
        )
    out = slot_out(slot)
    out.warnings = await stock_warnings(db, actor.location, slot)
    return out


async def stock_warnings(db: AsyncSession, location: Location, slot: Slot) -> list[StockWarning]:
    """Published anyway (a delivery may be on its way), but the manager is told when the product
    has no doses on hand for the slot's day, or fewer than the seats now open for it."""
    day = to_local(slot.start_at, location.time_zone).date()
    stock = (await stock_by_product(db, location.id, day)).get(slot.product_code, 0)
    if stock == 0:
        return [stock_warning("no_stock_for_slot", slot.product_code, location=location.name, date=day)]
    seats = (
        await db.execute(
            select(func.coalesce(func.sum(Slot.capacity), 0)).where(
                Slot.location_id == location.id,
                Slot.product_code == slot.product_code,
                Slot.is_open.is_(True),
                Slot.end_at > utcnow(),
            )
        )
    ).scalar_one()
    if seats > stock:
        return [stock_warning("seats_exceed_stock", slot.product_code, seats=int(seats), stock=stock)]
    return []


@router.get("", response_model=list[SlotOut])
async def list_slots(
    actor: Reader,
    db: SessionDep,
    day: Annotated[date | None, Query(description="a day in the location's time zone")] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    available_only: bool = False,
) -> list[SlotOut]:
    query = select(Slot).where(Slot.location_id == actor.location.id)
    if day is not None:
        start, end = day_bounds(day, actor.location.time_zone)
        query = query.where(Slot.start_at >= start, Slot.start_at < end)
    if product_code:
        query = query.where(Slot.product_code == product_code)
    if available_only:
        query = query.where(
            Slot.is_open.is_(True), Slot.booked + Slot.held < Slot.capacity, Slot.end_at > utcnow()
        )
    rows = await db.execute(query.order_by(Slot.start_at, Slot.id).limit(500))
    return [slot_out(s) for s in rows.scalars()]


class CapacityIn(BaseModel):
    capacity: int = Field(ge=1, le=10_000)


@router.patch("/{slot_id}", response_model=SlotOut)
async def change_capacity(
    slot_id: int,
    body: CapacityIn,
    actor: Manager,
    slot: SlotDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> SlotOut:
    """Raises or lowers a slot's capacity (never below the seats booked and held); new seats go to
    the waitlist first."""
    taken = slot.booked + slot.held
    if body.capacity < taken:
        raise Conflict(
            f"{taken} seats of this slot are booked or held; capacity cannot go below that",
            code="capacity_below_bookings",
        )
    # Conditional on the seats taken as read, so a booking meanwhile cannot be squeezed out.
    changed = await db.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.booked + Slot.held <= body.capacity)
        .values(capacity=body.capacity)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise Conflict("seats were booked meanwhile; try again", code="capacity_below_bookings")
    before = slot.capacity
    await db.refresh(slot)
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="slot",
        entity_id=slot.id,
        action="capacity",
        changes={"capacity": [before, slot.capacity]},
    )
    if slot.capacity > before and await someone_waits(db, slot.location_id, slot.product_code):
        tell_waitlist_after_commit(
            db, temporal, settings, slot.location_id, slot.product_code, Review("capacity raised", slot.id)
        )
    return slot_out(slot)


@router.post("/{slot_id}/close", response_model=SlotOut)
async def close_slot(slot_id: int, actor: Manager, slot: SlotDep, db: SessionDep) -> SlotOut:
    """No new bookings; appointments already booked keep their seats."""
    if slot.is_open:
        slot.is_open = False
        audit(
            db,
            actor=actor.actor,
            location_id=actor.location.id,
            entity="slot",
            entity_id=slot.id,
            action="close",
            changes={"is_open": [True, False]},
        )
    return slot_out(slot)
