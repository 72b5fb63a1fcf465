"""Slots: a location manager publishes capacity, changes it and closes it; anyone at the
location lists it. Seats that open go to the location's waitlist first."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import to_local
from domain.refusals import Conflict, Invalid
from domain.scheduling import Review
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.free_seats import add_free_seats, drop_free_seats, shift_free_seats
from records.inventory import stock_by_product
from records.locations import Location
from records.products import current_product
from records.scheduling import Slot
from services.scheduling import day_bounds, require_scheduling
from services.temporal import TemporalGateway
from services.waitlist import someone_waits, tell_waitlist_after_commit


async def publish_slot(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    user_id: int,
    actor: str,
    start_at: datetime,
    end_at: datetime,
    capacity: int,
    product_code: str,
) -> Slot:
    """Publishes capacity; when people wait for this product here, its seats go to them first."""
    require_scheduling(location)
    if end_at <= utcnow():
        raise Invalid("this slot would already be over", errors=[{"field": "end_at", "message": "past"}])
    if await current_product(db, product_code) is None:
        raise Invalid(
            f"unknown product {product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    fields: dict[str, Any] = {
        "start_at": start_at,
        "end_at": end_at,
        "capacity": capacity,
        "product_code": product_code,
    }
    day = to_local(start_at, location.time_zone).date()
    slot = Slot(location_id=location.id, created_by=user_id, booked=0, is_open=True, local_day=day, **fields)
    db.add(slot)
    await db.flush()
    await add_free_seats(db, location.id, day, product_code, capacity)
    audit(
        db,
        actor=actor,
        location_id=location.id,
        entity="slot",
        entity_id=slot.id,
        action="publish",
        changes={k: [None, str(v)] for k, v in fields.items()},
    )
    if await someone_waits(db, slot.location_id, slot.product_code):
        await tell_waitlist_after_commit(
            db, temporal, settings, slot.location_id, slot.product_code, Review("slot published", slot.id)
        )
    return slot


async def stock_shortfall(
    db: AsyncSession, location: Location, slot: Slot
) -> list[tuple[str, dict[str, int | str | date]]]:
    """Published anyway (a delivery may be on its way), but the manager is told when the product
    has no doses on hand for the slot's day, or fewer than the seats now open for it: the
    warning's code and the values it names."""
    day = to_local(slot.start_at, location.time_zone).date()
    stock = (await stock_by_product(db, location.id, day)).get(slot.product_code, 0)
    if stock == 0:
        return [("no_stock_for_slot", {"location": location.name, "date": day})]
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
        return [("seats_exceed_stock", {"seats": int(seats), "stock": stock})]
    return []


async def list_slots(
    db: AsyncSession,
    location: Location,
    *,
    day: date | None = None,
    product_code: str | None = None,
    available_only: bool = False,
) -> list[Slot]:
    query = select(Slot).where(Slot.location_id == location.id)
    if day is not None:
        start, end = day_bounds(day, location.time_zone)
        query = query.where(Slot.start_at >= start, Slot.start_at < end)
    if product_code:
        query = query.where(Slot.product_code == product_code)
    if available_only:
        query = query.where(
            Slot.is_open.is_(True), Slot.booked + Slot.held < Slot.capacity, Slot.end_at > utcnow()
        )
    rows = await db.execute(query.order_by(Slot.start_at, Slot.id).limit(500))
    return list(rows.scalars())


async def upcoming_slots(
    db: AsyncSession, location_id: int, *, page: int, page_size: int
) -> tuple[int, list[Slot]]:
    """The location's slots that have not ended, soonest first: how many, and one page of them."""
    upcoming = (Slot.location_id == location_id, Slot.end_at > utcnow())
    total = (await db.execute(select(func.count()).select_from(Slot).where(*upcoming))).scalar_one()
    shown = (
        await db.execute(
            select(Slot)
            .where(*upcoming)
            .order_by(Slot.start_at, Slot.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).scalars()
    return total, list(shown)


async def change_capacity(
    db: AsyncSession, temporal: TemporalGateway, settings: Settings, *, slot: Slot, capacity: int, actor: str
) -> Slot:
    """Raises or lowers a slot's capacity (never below the seats booked and held); new seats go to
    the waitlist first."""
    taken = slot.booked + slot.held
    if capacity < taken:
        raise Conflict(
            f"{taken} seats of this slot are booked or held; capacity cannot go below that",
            code="capacity_below_bookings",
        )
    # Conditional on the seats taken as read, so a booking meanwhile cannot be squeezed out.
    changed = await db.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.booked + Slot.held <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], changed).rowcount != 1:
        raise Conflict("seats were booked meanwhile; try again", code="capacity_below_bookings")
    before = slot.capacity
    await shift_free_seats(db, slot.id, capacity - before)
    await db.refresh(slot)
    audit(
        db,
        actor=actor,
        location_id=slot.location_id,
        entity="slot",
        entity_id=slot.id,
        action="capacity",
        changes={"capacity": [before, slot.capacity]},
    )
    if slot.capacity > before and await someone_waits(db, slot.location_id, slot.product_code):
        await tell_waitlist_after_commit(
            db, temporal, settings, slot.location_id, slot.product_code, Review("capacity raised", slot.id)
        )
    return slot


async def close_slot(db: AsyncSession, *, slot: Slot, actor: str) -> Slot:
    """No new bookings; appointments already booked keep their seats."""
    if slot.is_open:
        slot.is_open = False
        await db.flush()
        await drop_free_seats(db, slot.id)
        audit(
            db,
            actor=actor,
            location_id=slot.location_id,
            entity="slot",
            entity_id=slot.id,
            action="close",
            changes={"is_open": [True, False]},
        )
    return slot
