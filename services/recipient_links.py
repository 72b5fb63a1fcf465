"""What a recipient does through the signed links in their email (no login): the link's checks
and every action, shared by the JSON link API and the link pages.

Each link is signed for one purpose (itsdangerous) and expires after
CVMS_RECIPIENT_LINK_MAX_AGE_SECONDS. A tampered or foreign link is refused as forbidden
(`code: link_invalid`), an expired one as gone (`code: link_expired`); either way nothing
changes. Changes go through the journey workflow exactly like a scheduler's, with the actor
"recipient-link"; booking goes through the scheduling service.

A link that books (booking, waitlist offer) or changes an appointment (cancel, reschedule)
is single-use: its id (jti: a digest of what it was signed for, not of its text) is recorded
in `used_links` (primary key) when it acts, so a second use is refused (`code: link_used`);
a refused action frees it again. A used appointment link still shows the appointment. An
offer link works only for the person it was issued to, and only while their offer is pending.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.dose_rules import next_dose_window
from domain.journey_messages import (
    LINK_APPOINTMENT,
    LINK_BOOK,
    LINK_RECORD,
    AppointmentFact,
    AppointmentRequest,
    JourneyStatus,
    RescheduleRequest,
)
from domain.refusals import Conflict, Forbidden, Gone, NotFound, Refusal
from domain.scheduling import HoldStatus
from domain.security import LinkError, link_identity, read_link, sign_link
from domain.settings import Settings
from records.db import transaction, utcnow
from records.holds import SeatHold
from records.journeys import Dose, Journey
from records.links import UsedLink
from records.locations import Location
from records.products import Product
from records.recipients import Recipient
from records.schedules import rule_from_json
from records.scheduling import Appointment, Slot
from services.exports import SeriesRecord, series_record
from services.journeys import drive, end_transaction, journey_snapshot
from services.scheduling import book_slot, bookable, slot_fact
from services.seat_holds import give_back, place_hold
from services.series_plans import family_next_due
from services.temporal import TemporalGateway
from workflows.journey import JourneyWorkflow

RECIPIENT = "recipient-link"
# How an appointment link was used (used_links.purpose), so its page can say what happened.
USED_TO_CANCEL = f"{LINK_APPOINTMENT}:cancel"
USED_TO_RESCHEDULE = f"{LINK_APPOINTMENT}:reschedule"
CANCELLED_BY_RECIPIENT = "cancelled by the recipient"
T = TypeVar("T")


# --- opening a link ---------------------------------------------------------------------------


def _checked(settings: Settings, purpose: str, token: str, read: Callable[..., T]) -> T:
    try:
        return read(settings.secret_key, purpose, token, settings.recipient_link_max_age_seconds)
    except LinkError as error:
        if error.expired:
            raise Gone("this link has expired; contact the vaccination site", code="link_expired") from None
        raise Forbidden("this link is not valid", code="link_invalid") from None


def open_link(settings: Settings, purpose: str, token: str) -> dict[str, Any]:
    return _checked(settings, purpose, token, read_link)


def link_id(settings: Settings, purpose: str, token: str) -> str:
    """The single-use id (jti) of a link: its own "t" when it carries one, else what it was signed
    for, so a link spelled differently (base64's spare bits) is still the same, spent link."""
    payload = open_link(settings, purpose, token)
    return str(payload.get("t") or _checked(settings, purpose, token, link_identity))


async def linked_appointment(db: AsyncSession, settings: Settings, token: str) -> Appointment:
    payload = open_link(settings, LINK_APPOINTMENT, token)
    appointment = await db.get(Appointment, payload.get("a"))
    if appointment is None or appointment.journey_id != payload.get("j"):
        raise NotFound("this appointment no longer exists")
    return appointment


async def appointment_link_use(db: AsyncSession, settings: Settings, token: str) -> UsedLink | None:
    """How this appointment link was used (cancel or reschedule), or None while it is unused."""
    return await db.get(UsedLink, link_id(settings, LINK_APPOINTMENT, token))


async def series(db: AsyncSession, journey_id: str) -> Journey:
    journey = await db.get(Journey, journey_id)
    if journey is None:
        raise NotFound("this series no longer exists")
    return journey


async def booking_link(
    db: AsyncSession, settings: Settings, token: str
) -> tuple[dict[str, Any], Journey, str]:
    """The booking link's payload, its series, and its id (the used-links key)."""
    payload = open_link(settings, LINK_BOOK, token)
    journey = await series(db, str(payload.get("j")))
    return payload, journey, link_id(settings, LINK_BOOK, token)


def rebooking_token(settings: Settings, appointment: Appointment) -> str | None:
    """After the recipient cancels, a booking link for the same dose ("book another time" on the
    same page); single-use like the emailed ones, keyed by the cancelled appointment."""
    if appointment.status != "cancelled":
        return None
    payload = {"j": appointment.journey_id, "n": appointment.dose_number, "t": f"rebook-{appointment.id}"}
    return sign_link(settings.secret_key, LINK_BOOK, payload)


def link_holder(journey: Journey) -> str:
    """Who holds a seat chosen through a booking link: the recipient (one seat at a time)."""
    return f"{RECIPIENT}:{journey.recipient_id}"


async def linked_hold(db: AsyncSession, journey: Journey, hold_id: int) -> SeatHold:
    hold = await db.get(SeatHold, hold_id)
    if hold is None or hold.held_by != link_holder(journey):
        raise NotFound("no such seat hold for this link")
    return hold


async def linked_series(db: AsyncSession, settings: Settings, token: str) -> Journey:
    """The series a record link is for (its health card)."""
    payload = open_link(settings, LINK_RECORD, token)
    journey = await db.get(Journey, payload.get("j"))
    if journey is None or journey.recipient_id != payload.get("r"):
        raise NotFound("this record no longer exists")
    return journey


async def linked_recipient(db: AsyncSession, settings: Settings, token: str) -> Recipient:
    """The person a record link is for (their record pages and PDFs)."""
    payload = open_link(settings, LINK_RECORD, token)
    recipient = await db.get(Recipient, payload.get("r"))
    if recipient is None:
        raise NotFound("this record no longer exists")
    return recipient


# --- single use -------------------------------------------------------------------------------


async def claim_link(db: AsyncSession, jti: str, purpose: str, subject: str) -> None:
    """Records the link as used in the request's transaction (committed before the booking runs)."""
    if await db.get(UsedLink, jti) is not None:
        raise Conflict("this link has already been used", code="link_used")
    db.add(UsedLink(jti=jti, purpose=purpose, subject=subject))
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict("this link has already been used", code="link_used") from None


@asynccontextmanager
async def single_use(
    db: AsyncSession, sessions: async_sessionmaker[AsyncSession], jti: str
) -> AsyncIterator[None]:
    """Frees the link again when the booking it was used for failed (full slot, refused rule)."""
    try:
        yield
    except Refusal:
        # Refused before the request committed: the rollback drops the claim (and frees SQLite's
        # write lock for the cleanup below). Refused by the workflow: the claim was committed.
        await db.rollback()
        async with transaction(sessions) as cleanup:
            await cleanup.execute(delete(UsedLink).where(UsedLink.jti == jti))
        raise


# --- the appointment link ---------------------------------------------------------------------


async def cancel_by_link(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    token: str,
    reason: str = CANCELLED_BY_RECIPIENT,
) -> AppointmentFact:
    """Cancels the appointment; the link is spent by it."""
    appointment = await linked_appointment(db, settings, token)
    journey = await series(db, appointment.journey_id)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    request = AppointmentRequest(appointment_id=appointment.id, actor=RECIPIENT, reason=reason)
    jti = link_id(settings, LINK_APPOINTMENT, token)
    await claim_link(db, jti, USED_TO_CANCEL, f"recipient:{appointment.recipient_id}")
    await end_transaction(db)
    async with single_use(db, sessions, jti):
        fact: AppointmentFact = await drive(
            temporal,
            settings,
            snapshot,
            JourneyWorkflow.cancel,
            request,
            operation="cancel",
            key=f"a{request.appointment_id}",
        )
    return fact


async def schedulable_slot(db: AsyncSession, slot_id: int) -> Slot:
    """A slot at a location that takes bookings."""
    slot = (
        await db.execute(
            select(Slot)
            .join(Location, Location.id == Slot.location_id)
            .where(Slot.id == slot_id, Location.scheduling_enabled.is_(True))
        )
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("no such slot")
    return slot


async def reschedule_by_link(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    token: str,
    slot_id: int,
    key: str | None,
) -> AppointmentFact:
    """Moves the appointment to another slot; the link is spent by it (the email about the new
    time brings a new one)."""
    appointment = await linked_appointment(db, settings, token)
    slot = await schedulable_slot(db, slot_id)
    bookable(slot)
    journey = await series(db, appointment.journey_id)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    request = RescheduleRequest(appointment_id=appointment.id, slot=slot_fact(slot), actor=RECIPIENT)
    jti = link_id(settings, LINK_APPOINTMENT, token)
    await claim_link(db, jti, USED_TO_RESCHEDULE, f"recipient:{appointment.recipient_id}")
    await end_transaction(db)
    async with single_use(db, sessions, jti):
        fact: AppointmentFact = await drive(
            temporal,
            settings,
            snapshot,
            JourneyWorkflow.reschedule,
            request,
            operation="reschedule",
            key=key,
        )
    return fact


# --- the booking link -------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingOptions:
    """The dose a booking link is for, its window, and the open slots within it."""

    journey: Journey
    dose_number: int
    product_code: str
    earliest: datetime | None
    recommended_latest: datetime | None
    slots: list[Slot]


async def _options(
    db: AsyncSession, settings: Settings, journey: Journey, dose_number: Any
) -> BookingOptions:
    doses = (
        (
            await db.execute(
                select(Dose)
                .where(Dose.journey_id == journey.id, Dose.removed.is_(False))
                .order_by(Dose.dose_number.desc())
            )
        )
        .scalars()
        .all()
    )
    product = (
        await db.execute(
            select(Product).where(
                Product.code == journey.product_code, Product.version == journey.product_version
            )
        )
    ).scalar_one_or_none()
    if product is None:
        raise NotFound("this series has no product yet")
    earliest = latest = None
    query = (
        select(Slot)
        .join(Location, Location.id == Slot.location_id)
        .where(
            Location.scheduling_enabled.is_(True),
            Slot.product_code == product.code,
            Slot.is_open.is_(True),
            Slot.booked + Slot.held < Slot.capacity,
            Slot.start_at > utcnow(),
        )
    )
    if doses:
        # The series' own rule (a schedule's per-dose intervals) where it has one.
        rule = rule_from_json(journey.series_rule) if journey.series_rule else product.rule()
        window = next_dose_window(rule, doses[0].given_at, settings.day_seconds, len(doses) + 1)
        earliest, latest = window.earliest, window.recommended_latest
        query = query.where(Slot.start_at >= earliest, Slot.start_at <= latest)
    slots = list((await db.execute(query.order_by(Slot.start_at).limit(100))).scalars())
    return BookingOptions(
        journey=journey,
        dose_number=int(dose_number if dose_number is not None else len(doses) + 1),
        product_code=product.code,
        earliest=earliest,
        recommended_latest=latest,
        slots=slots,
    )


async def _next_series_options(db: AsyncSession, settings: Settings, journey: Journey) -> BookingOptions:
    """A "next dose due" link of a complete series: open slots of the products its schedule allows
    for the family's next dose (a booster: mix and match), from the day it is due."""
    due = await family_next_due(db, settings, journey)
    if due is None:
        raise Conflict("nothing is left to book in this series", code="series_complete")
    query = (
        select(Slot)
        .join(Location, Location.id == Slot.location_id)
        .where(
            Location.scheduling_enabled.is_(True),
            Slot.product_code.in_(due.products),
            Slot.is_open.is_(True),
            Slot.booked + Slot.held < Slot.capacity,
            Slot.start_at > utcnow(),
        )
    )
    if due.earliest is not None:
        query = query.where(Slot.start_at >= due.earliest)
    return BookingOptions(
        journey=journey,
        dose_number=due.dose_number,
        product_code=due.products[0],
        earliest=due.earliest,
        recommended_latest=due.recommended_latest,
        slots=list((await db.execute(query.order_by(Slot.start_at).limit(100))).scalars()),
    )


def for_next_series(payload: dict[str, Any]) -> bool:
    return bool(payload.get("next"))


async def booking_options(db: AsyncSession, settings: Settings, token: str) -> BookingOptions:
    """The open slots (any scheduling location) for the dose the link is for, within its window."""
    payload = open_link(settings, LINK_BOOK, token)
    journey = await series(db, str(payload.get("j")))
    if for_next_series(payload):
        return await _next_series_options(db, settings, journey)
    return await _options(db, settings, journey, payload.get("n"))


async def reschedule_options(db: AsyncSession, settings: Settings, appointment: Appointment) -> list[Slot]:
    """Other open slots a booked appointment may move to (the same rules as booking its dose)."""
    if appointment.status != "booked":
        return []
    options = await _options(db, settings, await series(db, appointment.journey_id), None)
    return [s for s in options.slots if s.id != appointment.slot_id]


def still_open(journey: Journey) -> None:
    if journey.status == JourneyStatus.complete:
        raise Conflict("this series is already complete; nothing is left to book", code="series_complete")


async def book_by_link(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    token: str,
    slot_id: int,
    hold_id: int | None,
    screening: dict[str, str] | None,
    key: str | None,
) -> AppointmentFact:
    """Books one of the offered slots (with `hold_id`: the seat held for it); spends the link."""
    payload, journey, jti = await booking_link(db, settings, token)
    if not for_next_series(payload):
        still_open(journey)
    slot = await schedulable_slot(db, slot_id)
    if hold_id is not None and (await linked_hold(db, journey, hold_id)).slot_id != slot.id:
        raise NotFound("no such seat hold in this slot")
    await claim_link(db, jti, LINK_BOOK, f"recipient:{journey.recipient_id}")
    async with single_use(db, sessions, jti):
        fact: AppointmentFact = await book_slot(
            db,
            temporal,
            settings,
            recipient_id=journey.recipient_id,
            slot=slot,
            actor=RECIPIENT,
            key=key,
            dose_number=int(payload["n"]) if "n" in payload and not for_next_series(payload) else None,
            hold_id=hold_id,
            screening=screening,
        )
    return fact


async def hold_by_link(
    *, db: AsyncSession, settings: Settings, temporal: TemporalGateway, token: str, slot_id: int
) -> SeatHold:
    """Sets the chosen seat aside while the person answers the screening questions and confirms;
    choosing again gives back the seat chosen before."""
    payload, journey, jti = await booking_link(db, settings, token)
    if not for_next_series(payload):
        still_open(journey)
    if await db.get(UsedLink, jti) is not None:
        raise Conflict("this link has already been used", code="link_used")
    slot = await schedulable_slot(db, slot_id)
    holder = link_holder(journey)
    earlier = (
        await db.execute(
            select(SeatHold).where(SeatHold.held_by == holder, SeatHold.status == HoldStatus.held.value)
        )
    ).scalars()
    for hold in earlier:
        if hold.slot_id == slot.id and hold.expires_at > utcnow():
            return hold  # the same choice again (a reload, a double click)
        await give_back(temporal, hold)
    held: SeatHold = await place_hold(db, temporal, settings, slot=slot, held_by=holder)
    return held


@dataclass(frozen=True)
class HeldSeat:
    journey: Journey
    hold: SeatHold
    slot: Slot
    location: Location


async def held_seat(db: AsyncSession, settings: Settings, token: str, hold_id: int) -> HeldSeat:
    _payload, journey, _jti = await booking_link(db, settings, token)
    hold = await linked_hold(db, journey, hold_id)
    slot = await db.get(Slot, hold.slot_id)
    location = await db.get(Location, hold.location_id)
    assert slot is not None and location is not None
    return HeldSeat(journey=journey, hold=hold, slot=slot, location=location)


async def release_by_link(
    *, db: AsyncSession, settings: Settings, temporal: TemporalGateway, token: str, hold_id: int
) -> SeatHold:
    """Gives the held seat back now (the person chooses another time or leaves)."""
    _payload, journey, _jti = await booking_link(db, settings, token)
    hold = await linked_hold(db, journey, hold_id)
    await give_back(temporal, hold)
    return hold


async def linked_record(db: AsyncSession, settings: Settings, token: str) -> SeriesRecord:
    """The series' record a record link shows (JSON)."""
    payload = open_link(settings, LINK_RECORD, token)
    return await series_record(db, payload.get("r"), payload.get("j"))
