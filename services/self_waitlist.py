"""Joining a location's waitlist from the public finder when the released seats are gone: the
products its waitlist offers, and the proven person's entry (services/self_scheduling.py keeps
the registration and its emailed code, the same as for booking)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import to_local
from domain.refusals import Conflict
from domain.settings import Settings
from records.db import utcnow
from records.locations import Location
from records.products import current_product
from records.scheduling import Slot
from records.self_registrations import SelfRegistration
from services.temporal import TemporalGateway
from services.waitlist import add_to_waitlist

# A person who joins the waitlist from the finder can come any day in this many days.
WAITLIST_DAYS = 60


@dataclass(frozen=True)
class WaitlistDays:
    earliest_date: date
    latest_date: date


async def waitlist_products(db: AsyncSession, location: Location) -> list[tuple[str, str]]:
    """(code, name) of the products the location has times for ahead: what its waitlist offers."""
    found = await db.execute(
        select(Slot.product_code)
        .where(Slot.location_id == location.id, Slot.end_at > utcnow(), Slot.is_open.is_(True))
        .distinct()
    )
    products = []
    for code in sorted(found.scalars().all()):
        product = await current_product(db, code)
        products.append((code, product.name if product else code))
    return products


async def join_waitlist(
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    row: SelfRegistration,
    location: Location,
    recipient_id: int,
    *,
    added_by: str,
) -> int:
    """The proven person on the waitlist (once: a second confirmation finds the same entry)."""
    assert row.waitlist_product is not None
    today = to_local(utcnow(), location.time_zone).date()
    days = WaitlistDays(today, today + timedelta(days=WAITLIST_DAYS))
    try:
        entry = await add_to_waitlist(
            db,
            temporal,
            settings,
            location=location,
            recipient_id=recipient_id,
            product_code=row.waitlist_product,
            dates=days,
            added_by=added_by,
        )
        return entry.id
    except Conflict as already:
        if already.code != "already_waitlisted" or not already.extra.get("entry_id"):
            raise
        return int(already.extra["entry_id"])
