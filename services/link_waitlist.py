"""The waitlist through a recipient's signed links: joining one from a booking link (no seat
suits), and the seat a waitlist offer link holds for the person, until they accept it or it
runs out. Shared by the JSON link API and the link pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.dose_rules import to_local
from domain.journey_messages import LINK_BOOK, AppointmentFact, JourneyStatus
from domain.refusals import Conflict, Forbidden, Gone, NotFound
from domain.scheduling import ACTIVE_ENTRY, LINK_WAITLIST_OFFER, EntryStatus, OfferStatus, offer_link_id
from domain.settings import Settings
from records.db import transaction, utcnow
from records.journeys import Journey
from records.links import UsedLink
from records.locations import Location
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry, WaitlistOffer
from services.recipient_links import (
    RECIPIENT,
    BookingOptions,
    claim_link,
    open_link,
    series,
    single_use,
    still_open,
)
from services.scheduling import book_slot
from services.temporal import TemporalGateway
from services.waitlist import add_to_waitlist


async def join_waitlist_by_link(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    token: str,
    location_id: int,
    dates: Any,
) -> WaitlistEntry:
    """No suitable seat is free: wait for one at a location, for the series' product, between
    two dates (`dates` has earliest_date and latest_date)."""
    payload = open_link(settings, LINK_BOOK, token)
    journey = await series(db, str(payload.get("j")))
    still_open(journey)
    if journey.product_code is None:
        raise NotFound("this series has no product yet; ask the vaccination site")
    location = await db.get(Location, location_id)
    if location is None:
        raise NotFound("no such location")
    entry: WaitlistEntry = await add_to_waitlist(
        db,
        temporal,
        settings,
        location=location,
        recipient_id=journey.recipient_id,
        product_code=journey.product_code,
        dates=dates,
        added_by=RECIPIENT,
    )
    return entry


async def waitlist_choices(db: AsyncSession, journey: Journey, options: BookingOptions) -> dict[str, Any]:
    """The places whose waitlist the person can join for the series' product, where they wait
    already, and the form's first values: the place of their last appointment and the dates
    the dose is due (or the next two weeks)."""
    if journey.status == JourneyStatus.complete:
        return {
            "waitlist_open": False,
            "waitlist_places": [],
            "waiting": [],
            "waitlist_form": {},
            "waitlist_errors": {},
        }
    places = list(
        (
            await db.execute(
                select(Location).where(Location.scheduling_enabled.is_(True)).order_by(Location.name)
            )
        ).scalars()
    )
    waiting = (
        await db.execute(
            select(WaitlistEntry, Location)
            .join(Location, Location.id == WaitlistEntry.location_id)
            .where(
                WaitlistEntry.recipient_id == journey.recipient_id,
                WaitlistEntry.product_code == options.product_code,
                WaitlistEntry.status.in_(ACTIVE_ENTRY),
            )
            .order_by(WaitlistEntry.id)
        )
    ).all()
    last_place = (
        await db.execute(
            select(Appointment.location_id)
            .where(Appointment.journey_id == journey.id)
            .order_by(Appointment.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    place = next((p for p in places if p.id == last_place), None)
    zone = place.time_zone if place else (places[0].time_zone if places else "UTC")
    today = to_local(utcnow(), zone).date()
    first = max(today, to_local(options.earliest, zone).date()) if options.earliest else today
    due = to_local(options.recommended_latest, zone).date() if options.recommended_latest else None
    last = due if due and due >= first else first + timedelta(days=14)
    return {
        "waitlist_open": bool(places),
        "waitlist_places": [(str(p.id), p.name) for p in places],
        "waiting": [{"entry": entry, "location": location} for entry, location in waiting],
        "waitlist_form": {
            "location_id": str(place.id) if place else "",
            "earliest_date": first.isoformat(),
            "latest_date": last.isoformat(),
        },
        "waitlist_errors": {},
    }


async def linked_offer(
    db: AsyncSession, settings: Settings, token: str
) -> tuple[dict[str, Any], WaitlistOffer, WaitlistEntry]:
    payload = open_link(settings, LINK_WAITLIST_OFFER, token)
    offer = await db.get(WaitlistOffer, payload.get("o"))
    entry = await db.get(WaitlistEntry, offer.entry_id) if offer is not None else None
    if offer is None or entry is None:
        raise NotFound("this offer no longer exists")
    if entry.recipient_id != payload.get("r"):
        raise Forbidden("this link was issued to someone else", code="link_not_yours")
    return payload, offer, entry


async def offered_seat(
    db: AsyncSession, settings: Settings, token: str
) -> tuple[WaitlistOffer, WaitlistEntry, Slot, Location]:
    """The offer, the person's entry, and the seat and place offered."""
    _payload, offer, entry = await linked_offer(db, settings, token)
    slot = await db.get(Slot, offer.slot_id)
    location = await db.get(Location, entry.location_id)
    assert slot is not None and location is not None
    return offer, entry, slot, location


async def accept_offer(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    token: str,
    screening: dict[str, str] | None,
) -> AppointmentFact:
    """Books the offered seat (the one held for this person) while the offer is pending."""
    payload, offer, entry = await linked_offer(db, settings, token)
    jti = str(payload.get("t") or offer_link_id(offer.id))
    if offer.status == OfferStatus.accepted or await db.get(UsedLink, jti) is not None:
        raise Conflict("this link has already been used", code="link_used")
    if offer.status != OfferStatus.pending or offer.expires_at <= utcnow():
        raise Gone("this offer has run out; the seat went to the next person", code="offer_expired")
    slot = await db.get(Slot, offer.slot_id)
    assert slot is not None
    await claim_link(db, jti, LINK_WAITLIST_OFFER, f"recipient:{entry.recipient_id}")
    offer_id, entry_id, hold_id = offer.id, entry.id, offer.hold_id
    async with single_use(db, sessions, jti):
        fact: AppointmentFact = await book_slot(
            db,
            temporal,
            settings,
            recipient_id=entry.recipient_id,
            slot=slot,
            actor=RECIPIENT,
            key=jti,
            dose_number=None,
            hold_id=hold_id,
            screening=screening,
        )
    # The waitlist workflow settles the offer when its time is up; recording it now keeps lists true.
    async with transaction(sessions) as session:
        await session.execute(
            update(WaitlistOffer)
            .where(WaitlistOffer.id == offer_id, WaitlistOffer.status == OfferStatus.pending.value)
            .values(
                status=OfferStatus.accepted.value, appointment_id=fact.appointment_id, settled_at=utcnow()
            )
        )
        await session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == EntryStatus.offered.value)
            .values(status=EntryStatus.booked.value, updated_at=utcnow())
        )
    return fact
