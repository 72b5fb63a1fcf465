"""Waitlists: a recipient joins a location's line for a product and dates (staff add them, or
they join through their booking link); free seats are offered by the location's waitlist
workflow (workflows/waitlist.py), which this module tells when seats may have opened."""

from __future__ import annotations

import logging
from datetime import date
from typing import Protocol

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import to_local
from domain.refusals import Conflict, Invalid, NotFound
from domain.scheduling import (
    ACTIVE_ENTRY,
    REVIEW_SIGNAL,
    WAITLIST_WORKFLOW,
    EntryStatus,
    Review,
    WaitlistInput,
    waitlist_workflow_id,
)
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.locations import Location
from records.products import current_product
from records.recipients import Recipient
from records.waitlist import WaitlistEntry, WaitlistOffer
from services.scheduling import require_scheduling
from services.temporal import TemporalGateway
from services.workflow_starts import promise_start

log = logging.getLogger("cvms.waitlist")


class Dates(Protocol):
    """The days a person can come (api's `Dates` schema, or anything with the two fields)."""

    @property
    def earliest_date(self) -> date: ...

    @property
    def latest_date(self) -> date: ...


async def tell_waitlist_after_commit(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    location_id: int,
    product_code: str,
    review: Review,
) -> None:
    """Asks the waitlist to look again once this request has committed: promised in the request's
    transaction (services/workflow_starts), so it happens even if Temporal is away just then."""
    await promise_start(
        db,
        temporal,
        None,
        run=WAITLIST_WORKFLOW,
        argument=WaitlistInput(location_id, product_code, settings.waitlist_offer_hold_seconds),
        workflow_id=waitlist_workflow_id(location_id, product_code),
        signal=REVIEW_SIGNAL,
        signal_argument=review,
    )


async def someone_waits(db: AsyncSession, location_id: int, product_code: str) -> bool:
    return bool(
        (
            await db.execute(
                select(
                    exists().where(
                        WaitlistEntry.location_id == location_id,
                        WaitlistEntry.product_code == product_code,
                        WaitlistEntry.status.in_(ACTIVE_ENTRY),
                    )
                )
            )
        ).scalar_one()
    )


async def active_entry(
    db: AsyncSession, location_id: int, recipient_id: int, product_code: str
) -> WaitlistEntry | None:
    """The person's place in this location's line for the product, while they wait or hold an offer."""
    return (
        await db.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.location_id == location_id,
                WaitlistEntry.recipient_id == recipient_id,
                WaitlistEntry.product_code == product_code,
                WaitlistEntry.status.in_(ACTIVE_ENTRY),
            )
        )
    ).scalar_one_or_none()


def _already_waitlisted(entry: WaitlistEntry | None) -> Conflict:
    return Conflict(
        "this recipient is already on this waitlist",
        code="already_waitlisted",
        entry_id=entry.id if entry else None,
    )


async def add_to_waitlist(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    recipient_id: int,
    product_code: str,
    dates: Dates,
    added_by: str,
) -> WaitlistEntry:
    """Shared by staff and the recipient's link: one active entry per person, place and product
    (a unique index holds it when two requests join at once)."""
    require_scheduling(location)
    if await current_product(db, product_code) is None:
        raise Invalid(
            f"unknown product {product_code!r}", errors=[{"field": "product_code", "message": "unknown"}]
        )
    today = to_local(utcnow(), location.time_zone).date()
    if dates.latest_date < today:
        raise Invalid("these dates are over", errors=[{"field": "latest_date", "message": "before today"}])
    already = await active_entry(db, location.id, recipient_id, product_code)
    if already is not None:
        raise _already_waitlisted(already)
    entry = WaitlistEntry(
        location_id=location.id,
        recipient_id=recipient_id,
        product_code=product_code,
        earliest_date=dates.earliest_date,
        latest_date=dates.latest_date,
        status=EntryStatus.waiting.value,
        added_by=added_by,
    )
    try:
        async with db.begin_nested():
            db.add(entry)
            await db.flush()
    except IntegrityError:  # joined at the same moment by another request (a double click)
        raise _already_waitlisted(await active_entry(db, location.id, recipient_id, product_code)) from None
    audit(
        db,
        actor=added_by,
        location_id=location.id,
        entity="waitlist_entry",
        entity_id=entry.id,
        action="join",
        changes={
            "recipient_id": [None, recipient_id],
            "product_code": [None, product_code],
            "dates": [None, f"{dates.earliest_date}..{dates.latest_date}"],
        },
    )
    await tell_waitlist_after_commit(db, temporal, settings, location.id, product_code, Review("joined"))
    return entry


async def join(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    recipient_id: int,
    product_code: str,
    dates: Dates,
    added_by: str,
) -> WaitlistEntry:
    """Staff add a recipient to the location's waitlist for a product between two dates."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    return await add_to_waitlist(
        db,
        temporal,
        settings,
        location=location,
        recipient_id=recipient_id,
        product_code=product_code,
        dates=dates,
        added_by=added_by,
    )


async def entries(
    db: AsyncSession,
    location_id: int,
    *,
    status: str | None = None,
    product_code: str | None = None,
    recipient_id: int | None = None,
) -> list[WaitlistEntry]:
    """A location's waitlist in the order seats are offered."""
    query = select(WaitlistEntry).where(WaitlistEntry.location_id == location_id)
    if status:
        query = query.where(WaitlistEntry.status == status)
    if product_code:
        query = query.where(WaitlistEntry.product_code == product_code)
    if recipient_id:
        query = query.where(WaitlistEntry.recipient_id == recipient_id)
    rows = await db.execute(query.order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(500))
    return list(rows.scalars())


async def offers_of(db: AsyncSession, entry: WaitlistEntry) -> list[WaitlistOffer]:
    rows = await db.execute(
        select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id).order_by(WaitlistOffer.id)
    )
    return list(rows.scalars())


async def remove_entry(db: AsyncSession, *, entry: WaitlistEntry, actor: str) -> WaitlistEntry:
    """Takes a waiting recipient off the list (one holding an offer keeps it until it runs out)."""
    if entry.status != EntryStatus.waiting:
        raise Conflict(f"this entry is {entry.status}; only a waiting one is removed", code="entry_status")
    entry.status = EntryStatus.removed.value
    audit(
        db,
        actor=actor,
        location_id=entry.location_id,
        entity="waitlist_entry",
        entity_id=entry.id,
        action="remove",
        changes={"status": [EntryStatus.waiting.value, EntryStatus.removed.value]},
    )
    return entry


async def recipient_names(db: AsyncSession, ids: set[int]) -> dict[int, str]:
    """The names of the people on a page of the waitlist, by recipient id."""
    rows = await db.execute(select(Recipient).where(Recipient.id.in_(ids)))
    return {r.id: r.full_name for r in rows.scalars()}
