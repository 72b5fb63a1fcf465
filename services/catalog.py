"""Products (the dose rules, read-only here), the location's inventory lots, and the public
"find a vaccine location" listing: everything public is read live from the records, so
unpublishing removes a location at once and free seats are the slots' true remaining capacity."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import to_local
from domain.refusals import Conflict, Invalid, NotFound
from records.audit import audit, diff
from records.db import utcnow
from records.free_seats import free_days
from records.inventory import EventKind, record_event
from records.locations import Location
from records.products import InventoryLot, Product, current_product
from records.scheduling import Slot
from services.scheduling import day_bounds

# How far ahead the finder looks for free seats, and how many days it lists.
LOOKAHEAD_DAYS = 14
FREE_DAYS_SHOWN = 7

# --------------------------------------------------------------------------- products and lots


async def newest_products(db: AsyncSession) -> list[Product]:
    """The newest version of every product."""
    rows = (await db.execute(select(Product).order_by(Product.code, Product.version.desc()))).scalars()
    newest: dict[str, Product] = {}
    for row in rows:
        newest.setdefault(row.code, row)
    return list(newest.values())


async def product_names(db: AsyncSession) -> dict[str, str]:
    """Every product's name (its newest version's), by code."""
    newest = (
        select(Product.code, func.max(Product.version).label("version")).group_by(Product.code).subquery()
    )
    rows = await db.execute(
        select(Product.code, Product.name).join(
            newest, (newest.c.code == Product.code) & (newest.c.version == Product.version)
        )
    )
    return dict(rows.all())


async def lots(db: AsyncSession, location_id: int) -> list[InventoryLot]:
    rows = await db.execute(
        select(InventoryLot)
        .where(InventoryLot.location_id == location_id)
        .order_by(InventoryLot.product_code, InventoryLot.expires_on)
    )
    return list(rows.scalars())


async def add_lot(
    db: AsyncSession,
    *,
    location_id: int,
    user_id: int,
    actor: str,
    product_code: str,
    lot_number: str,
    expires_on: date,
    doses_received: int,
) -> InventoryLot:
    if await current_product(db, product_code) is None:
        raise Invalid(
            f"unknown product {product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    duplicate = (
        await db.execute(
            select(InventoryLot.id).where(
                InventoryLot.location_id == location_id, InventoryLot.lot_number == lot_number
            )
        )
    ).first()
    if duplicate is not None:
        raise Conflict(
            f"lot {lot_number} is already recorded at this location",
            code="duplicate_lot",
            errors=[{"field": "lot_number", "message": "already recorded"}],
        )
    lot = InventoryLot(
        location_id=location_id,
        created_by=user_id,
        product_code=product_code,
        lot_number=lot_number,
        expires_on=expires_on,
    )
    db.add(lot)
    await db.flush()
    if doses_received:
        await record_event(db, lot, EventKind.received, doses_received, actor=actor)
        await db.refresh(lot)
    fields = {
        "product_code": product_code,
        "lot_number": lot_number,
        "expires_on": expires_on,
        "doses_received": doses_received,
    }
    audit(
        db,
        actor=actor,
        location_id=location_id,
        entity="lot",
        entity_id=lot.id,
        action="add",
        changes={k: [None, str(v)] for k, v in fields.items()},
    )
    return lot


# --------------------------------------------------------------------------- the location's listing


def _hours_snapshot(location: Location) -> dict[str, object]:
    return {
        "published": location.published,
        "walk_ins": location.walk_ins,
        "self_scheduling": location.self_scheduling,
        "opening_hours": str(location.opening_hours),
    }


def update_listing(
    db: AsyncSession,
    *,
    location: Location,
    actor: str,
    published: bool | None,
    walk_ins: bool | None,
    opening_hours: list[dict[str, Any]] | None,
    self_scheduling: bool | None = None,
) -> Location:
    """Publish or unpublish (gone from the finder at once); set walk-ins, opening hours, and
    whether people may book themselves from the finder."""
    before = _hours_snapshot(location)
    if published is not None:
        location.published = published
    if walk_ins is not None:
        location.walk_ins = walk_ins
    if opening_hours is not None:
        location.opening_hours = opening_hours
    if self_scheduling is not None:
        location.self_scheduling = self_scheduling
    changes = diff(before, _hours_snapshot(location))
    if changes:
        audit(
            db,
            actor=actor,
            location_id=location.id,
            entity="location",
            entity_id=location.id,
            action="listing",
            changes=changes,
        )
    return location


# --------------------------------------------------------------------------- public


async def codes_in_stock(db: AsyncSession, location: Location) -> list[str]:
    today = to_local(utcnow(), location.time_zone).date()
    codes = (
        await db.execute(
            select(InventoryLot.product_code)
            .where(
                InventoryLot.location_id == location.id,
                InventoryLot.on_hand > 0,
                InventoryLot.expires_on >= today,
            )
            .distinct()
        )
    ).scalars()
    return sorted(codes)


async def free_seats_by_day(db: AsyncSession, location: Location) -> list[tuple[date, int]]:
    """The next days with seats still free in open slots that have not ended (local days).

    Later days come from the free-seat summary (records/free_seats.py, kept in step with every
    booking, hold and slot change); today alone is added up from its slots, the ones already over
    left out."""
    now = utcnow()
    today = to_local(now, location.time_zone).date()
    _start, end_of_today = day_bounds(today, location.time_zone)
    rows = await db.execute(
        # Held seats (registration in progress, waitlist offers) are not free.
        select(func.coalesce(func.sum(Slot.capacity - Slot.booked - Slot.held), 0)).where(
            Slot.location_id == location.id,
            Slot.start_at < end_of_today,
            Slot.end_at > now,
            Slot.is_open.is_(True),
            Slot.booked + Slot.held < Slot.capacity,
        )
    )
    free_today = int(rows.scalar_one())
    later = await free_days(
        db, location.id, today + timedelta(days=1), today + timedelta(days=LOOKAHEAD_DAYS)
    )
    days = ([(today, free_today)] if free_today else []) + later
    return days[:FREE_DAYS_SHOWN]


async def published_locations(db: AsyncSession) -> list[Location]:
    rows = await db.execute(select(Location).where(Location.published.is_(True)).order_by(Location.name))
    return list(rows.scalars())


async def published_location(db: AsyncSession, code: str) -> Location:
    location = (
        await db.execute(select(Location).where(Location.code == code.upper(), Location.published.is_(True)))
    ).scalar_one_or_none()
    if location is None:
        raise NotFound("no such published location")
    return location
