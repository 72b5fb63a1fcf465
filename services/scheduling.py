"""Scheduling: seat holds and appointments (slots: services/slots.py).

"Can this booking happen?" is answered here once (`bookable`, `require_scheduling`, and
`book_slot` around them) from the pure rules of the ground floor; the staff routes, the portal
pages and the recipient's links all call these. Every change to an appointment is a Workflow
Update of the recipient's journey (`services.journeys.drive`), which claims the seat with one
conditional UPDATE and answers synchronously.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.dose_rules import next_dose_window, to_local
from domain.journey_messages import (
    AppointmentFact,
    AppointmentRequest,
    BookRequest,
    RescheduleRequest,
    SlotFact,
)
from domain.refusals import Conflict, NotFound
from domain.scheduling import (
    AppointmentStatus,
)
from domain.settings import Settings
from records.db import READS_ONLY, utcnow
from records.holds import SeatHold
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import Product, current_product
from records.recipients import Recipient
from records.schedules import scheduled_products
from records.scheduling import Appointment, Slot
from services.eligibility import check_eligible
from services.journeys import drive, end_transaction, journey_snapshot, new_series_input
from services.series_plans import next_dues, plan_series
from services.temporal import TemporalGateway
from workflows.journey import JourneyWorkflow

# --------------------------------------------------------------------------- can it happen?


def require_scheduling(location: Location) -> None:
    """A walk-in-only location takes no bookings, holds or waitlist entries."""
    if not location.scheduling_enabled:
        raise Conflict(
            f"{location.name} takes walk-ins only; scheduling is not enabled here",
            code="scheduling_disabled",
        )


def bookable(slot: Slot) -> None:
    """What can be said before the workflow: the seat itself is claimed atomically later."""
    if not slot.is_open:
        raise Conflict("this slot is closed to bookings", code="slot_closed")
    if slot.end_at <= utcnow():
        raise Conflict("this slot is over; choose a later one", code="slot_past")


def slot_full(slot_id: int) -> Conflict:
    return Conflict("This slot is full; choose another.", code="slot_full", slot_id=slot_id)


def slot_fact(slot: Slot) -> SlotFact:
    return SlotFact(
        slot_id=slot.id,
        location_id=slot.location_id,
        start_at=slot.start_at,
        end_at=slot.end_at,
        product_code=slot.product_code,
    )


def day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """A calendar day of the location, as UTC instants [start, end)."""
    zone = ZoneInfo(tz_name)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


# --------------------------------------------------------------------------- booking


async def booked_with_key(db: AsyncSession, jid: str, key: str | None) -> bool:
    if key is None:
        return False
    found = await db.execute(
        select(Appointment.id).where(Appointment.journey_id == jid, Appointment.idempotency_key == key)
    )
    return found.first() is not None


async def book_slot(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    recipient_id: int,
    slot: Slot,
    actor: str,
    key: str | None,
    dose_number: int | None,
    hold_id: int | None = None,
    screening: dict[str, str] | None = None,
) -> AppointmentFact:
    """Shared by the scheduler's booking and the recipient's links (booking, waitlist offer)."""
    bookable(slot)
    product = await current_product(db, slot.product_code)
    if product is None:
        raise Conflict(f"the slot's product {slot.product_code!r} is unknown", code="unknown_product")
    await check_eligible(
        db,
        recipient_id=recipient_id,
        product_code=slot.product_code,
        location_id=slot.location_id,
        at=slot.start_at,
        screening=screening,
    )
    plan = await plan_series(
        db,
        settings,
        recipient_id=recipient_id,
        product=product,
        at=slot.start_at,
        location_id=slot.location_id,
        booking=True,
    )
    jid, series_no = plan.journey_id, plan.series_no
    # A series not begun has nothing recorded under its id yet: no booking to find, nothing to read.
    retry = plan.begun and await booked_with_key(db, jid, key)
    if slot.booked >= slot.capacity and not retry:
        raise slot_full(slot.id)
    snapshot = (
        await journey_snapshot(db, settings, recipient_id, series_no)
        if plan.begun
        else new_series_input(settings, recipient_id, series_no)
    )
    await end_transaction(db)
    request = BookRequest(
        slot=slot_fact(slot),
        rule=plan.rule,
        idempotency_key=key or f"slot-{slot.id}-{utcnow().timestamp()}",
        actor=actor,
        dose_number=dose_number,
        hold_id=hold_id,
    )
    if not retry and slot.capacity - slot.booked > CROWDED_SEATS:
        # Plenty of seats: no gate (the atomic claim still refuses the rare overflow). A gate of
        # 8 in front of a 500-seat release would make a crowd book 8 at a time.
        booked: AppointmentFact = await drive(
            temporal, settings, snapshot, JourneyWorkflow.book, request, operation="book", key=key
        )
        return booked
    async with slot_gate(slot.id) as crowd:
        # Read again once through the gate: a crowd that arrived together mostly finds the
        # slot full now and is refused without a workflow round trip. When the seats read above
        # outnumber this process's bookings of the slot at the gate, a seat is all but sure to be
        # left: no second read (the claim in the workflow is what decides, here as always).
        left = slot.capacity - slot.booked
        if not retry and crowd >= left and await seats_left(db, slot.id) <= 0:
            raise slot_full(slot.id)
        fact: AppointmentFact = await drive(
            temporal, settings, snapshot, JourneyWorkflow.book, request, operation="book", key=key
        )
        return fact


# Bookings of one slot that this process sends to workflows at once. Seats are still claimed
# atomically in the database (any number of replicas is safe); the gate only keeps a crowd
# for a few seats from becoming a crowd of workflow updates that are then refused.
SLOT_GATE_SIZE = 8
# A slot with more seats left than this (as read before the booking) books without the gate.
CROWDED_SEATS = 4 * SLOT_GATE_SIZE
_slot_gates: dict[int, tuple[asyncio.Semaphore, list[int]]] = {}


@asynccontextmanager
async def slot_gate(slot_id: int) -> AsyncIterator[int]:
    """Lets a booking of the slot through; gives how many of this process's bookings of it are at
    the gate then (waiting or through, this one included)."""
    gate, users = _slot_gates.setdefault(slot_id, (asyncio.Semaphore(SLOT_GATE_SIZE), [0]))
    users[0] += 1
    try:
        async with gate:
            yield users[0]
    finally:
        users[0] -= 1
        if users[0] == 0:
            del _slot_gates[slot_id]


async def seats_left(db: AsyncSession, slot_id: int) -> int:
    """A fresh read outside the request's (finished) transaction, as a reader beside the writer."""
    engine = db.bind
    assert isinstance(engine, AsyncEngine), "a request session is bound to the engine"
    async with engine.connect() as conn:
        reader = await conn.execution_options(**{READS_ONLY: True})
        left: int = (
            await reader.execute(select(Slot.capacity - Slot.booked).where(Slot.id == slot_id))
        ).scalar_one()
        return left


async def slot_at(db: AsyncSession, location_id: int, slot_id: int) -> Slot:
    """A slot of the location; another location's slot is not found."""
    slot = (
        await db.execute(select(Slot).where(Slot.id == slot_id, Slot.location_id == location_id))
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("no such slot at this location")
    return slot


async def slot_and_recipient(
    db: AsyncSession, location_id: int, slot_id: int, recipient_id: int
) -> tuple[Slot, Recipient]:
    """The slot (of the location) and the recipient a booking names, read in one statement; when
    either is missing, read one by one for the refusal that names which."""
    found = (
        await db.execute(
            select(Slot, Recipient)
            .join(Recipient, Recipient.id == recipient_id)
            .where(Slot.id == slot_id, Slot.location_id == location_id)
        )
    ).first()
    if found is not None:
        return found[0], found[1]
    slot = await slot_at(db, location_id, slot_id)
    recipient = await db.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    return slot, recipient


async def bookable_slots(
    db: AsyncSession, settings: Settings, location: Location, recipient_id: int, given: list[Dose]
) -> list[Slot]:
    """Open slots here for the recipient's next doses: of each vaccine family, the products its
    schedule allows from the day the dose is due (to the recommended latest of a primary dose; no
    grace); for a product no schedule knows, the same product within its window."""
    if not location.scheduling_enabled:
        return []
    query = select(Slot).where(
        Slot.location_id == location.id,
        Slot.is_open.is_(True),
        Slot.booked + Slot.held < Slot.capacity,
        Slot.start_at > utcnow(),
    )
    fits: list[ColumnElement[bool]] = []
    for due in await next_dues(db, settings, recipient_id, to_local(utcnow(), location.time_zone).date()):
        fit: ColumnElement[bool] = Slot.product_code.in_(due.products)
        if due.earliest is not None:
            fit = fit & (Slot.start_at >= due.earliest)
        if due.recommended_latest is not None:
            fit = fit & (Slot.start_at <= due.recommended_latest)
        fits.append(fit)
    scheduled = await scheduled_products(db)
    unscheduled = [d for d in given if d.product_code not in scheduled]
    if unscheduled:
        last = unscheduled[-1]
        product = (
            await db.execute(
                select(Product).where(
                    Product.code == last.product_code, Product.version == last.product_version
                )
            )
        ).scalar_one()
        if len([d for d in unscheduled if d.journey_id == last.journey_id]) < product.doses:
            window = next_dose_window(product.rule(), last.given_at, settings.day_seconds)
            fits.append(
                (Slot.product_code == product.code)
                & (Slot.start_at >= window.earliest)
                & (Slot.start_at <= window.recommended_latest)
            )
    elif not given:
        fits.append(Slot.product_code.not_in(scheduled))  # a first dose of a product no schedule knows
    if not fits:
        return []
    return list((await db.execute(query.where(or_(*fits)).order_by(Slot.start_at).limit(50))).scalars())


# --------------------------------------------------------------------------- appointments


async def book_appointment(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    recipient_id: int,
    slot_id: int,
    actor: str,
    key: str | None,
    dose_number: int | None = None,
    hold_id: int | None = None,
    screening: dict[str, str] | None = None,
) -> tuple[AppointmentFact, str]:
    """Books the recipient's next dose in a slot of this location (409 when full or outside the
    window): the appointment and the recipient's name."""
    require_scheduling(location)
    slot, recipient = await slot_and_recipient(db, location.id, slot_id, recipient_id)
    if hold_id is not None:
        hold = await db.get(SeatHold, hold_id)
        if hold is None or hold.location_id != location.id or hold.slot_id != slot.id:
            raise NotFound("no such seat hold in this slot")
    name = recipient.full_name
    fact = await book_slot(
        db,
        temporal,
        settings,
        recipient_id=recipient.id,
        slot=slot,
        actor=actor,
        key=key,
        dose_number=dose_number,
        hold_id=hold_id,
        screening=screening,
    )
    return fact, name


async def search_appointments(
    db: AsyncSession,
    location: Location,
    *,
    day: date | None = None,
    status: str | None = None,
    recipient_id: int | None = None,
    limit: int = 200,
) -> list[tuple[AppointmentFact, str]]:
    """The location's appointments (each with the recipient's name), soonest first."""
    query = (
        select(Appointment, Recipient)
        .join(Recipient, Recipient.id == Appointment.recipient_id)
        .where(Appointment.location_id == location.id)
    )
    if day is not None:
        start, end = day_bounds(day, location.time_zone)
        query = query.where(Appointment.start_at >= start, Appointment.start_at < end)
    if status is not None:
        query = query.where(Appointment.status == status)
    if recipient_id is not None:
        query = query.where(Appointment.recipient_id == recipient_id)
    rows = await db.execute(query.order_by(Appointment.start_at, Appointment.id).limit(limit))
    return [(AppointmentFact.of(a), r.full_name) for a, r in rows.all()]


async def recipient_name(db: AsyncSession, appointment: Appointment) -> str | None:
    recipient = await db.get(Recipient, appointment.recipient_id)
    return recipient.full_name if recipient else None


async def _change(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    appointment: Appointment,
    update: object,
    request: object,
    operation: str,
    key: str | None,
) -> AppointmentFact:
    journey = await db.get(Journey, appointment.journey_id)
    if journey is None:
        raise NotFound("no such appointment")
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    await end_transaction(db)
    fact: AppointmentFact = await drive(
        temporal, settings, snapshot, update, request, operation=operation, key=key
    )
    return fact


async def reschedule(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    appointment: Appointment,
    slot_id: int,
    actor: str,
    key: str | None,
) -> AppointmentFact:
    """Moves the appointment to another slot of this location: same invite, higher SEQUENCE."""
    require_scheduling(location)
    slot = await slot_at(db, location.id, slot_id)
    bookable(slot)
    request = RescheduleRequest(appointment_id=appointment.id, slot=slot_fact(slot), actor=actor)
    return await _change(
        db, temporal, settings, appointment, JourneyWorkflow.reschedule, request, "reschedule", key
    )


async def cancel(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    appointment: Appointment,
    reason: str,
    actor: str,
    key: str | None,
) -> AppointmentFact:
    request = AppointmentRequest(appointment_id=appointment.id, actor=actor, reason=reason)
    return await _change(db, temporal, settings, appointment, JourneyWorkflow.cancel, request, "cancel", key)


async def check_in(
    db: AsyncSession, temporal: TemporalGateway, settings: Settings, *, appointment: Appointment, actor: str
) -> AppointmentFact:
    request = AppointmentRequest(appointment_id=appointment.id, actor=actor)
    return await _change(
        db,
        temporal,
        settings,
        appointment,
        JourneyWorkflow.check_in,
        request,
        "check-in",
        f"a{appointment.id}",
    )


async def no_show(
    db: AsyncSession, temporal: TemporalGateway, settings: Settings, *, appointment: Appointment, actor: str
) -> AppointmentFact:
    if appointment.status == AppointmentStatus.booked and appointment.start_at > utcnow():
        raise Conflict("this appointment has not started yet", code="not_started")
    request = AppointmentRequest(appointment_id=appointment.id, actor=actor)
    return await _change(
        db, temporal, settings, appointment, JourneyWorkflow.no_show, request, "no-show", f"a{appointment.id}"
    )
