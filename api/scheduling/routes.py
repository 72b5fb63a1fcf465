"""Slots, seat holds and appointments (JSON). A location manager publishes and closes slots;
schedulers hold seats, book dose 1 and 2, reschedule, cancel and mark no-shows; staff check in.

Each route parses, calls services/slots.py or services/scheduling.py and shapes the answer.
Every change to an appointment is a Workflow Update of the recipient's journey, which does the
database step (a seat is claimed with one conditional UPDATE) and answers synchronously.
A seat hold counts against the slot's capacity at once and is released by its own workflow's
durable timer after CVMS_SEAT_HOLD_SECONDS unless a booking takes it first.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import (
    IdempotencyKey,
    Manager,
    Reader,
    ReadsOnly,
    RecordId,
    Registrar,
    Scheduler,
    SessionDep,
    TemporalDep,
    WiringDep,
)
from api.scheduling.deps import AppointmentDep, HoldDep, SlotDep
from api.scheduling.schemas import (
    AppointmentOut,
    BookIn,
    CancelIn,
    CapacityIn,
    HoldOut,
    RescheduleIn,
    SlotIn,
    SlotOut,
    Status,
    from_fact,
    slot_out,
    warnings_of,
)
from domain.journey_messages import AppointmentFact
from services import scheduling, seat_holds, slots

# --------------------------------------------------------------------------- slots

slots_router = APIRouter(prefix="/slots", tags=["slots"])


@slots_router.post("", response_model=SlotOut, status_code=201)
async def publish_slot(body: SlotIn, actor: Manager, wiring: WiringDep) -> SlotOut:
    """Publishes capacity; when people wait for this product here, its seats go to them first."""
    slot = await slots.publish_slot(
        **wiring.io, location=actor.location, user_id=actor.user.id, actor=actor.actor, **body.model_dump()
    )
    out = slot_out(slot)
    out.warnings = warnings_of(
        await slots.stock_shortfall(wiring.db, actor.location, slot), slot.product_code
    )
    return out


@slots_router.get("", response_model=list[SlotOut])
async def list_slots(
    actor: Reader,
    db: SessionDep,
    day: Annotated[date | None, Query(description="a day in the location's time zone")] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    available_only: bool = False,
) -> list[SlotOut]:
    rows = await slots.list_slots(
        db, actor.location, day=day, product_code=product_code, available_only=available_only
    )
    return [slot_out(s) for s in rows]


@slots_router.patch("/{slot_id}", response_model=SlotOut)
async def change_capacity(
    slot_id: int, body: CapacityIn, actor: Manager, slot: SlotDep, wiring: WiringDep
) -> SlotOut:
    """Raises or lowers a slot's capacity (never below the seats booked and held); new seats go to
    the waitlist first."""
    changed = await slots.change_capacity(**wiring.io, slot=slot, capacity=body.capacity, actor=actor.actor)
    return slot_out(changed)


@slots_router.post("/{slot_id}/close", response_model=SlotOut)
async def close_slot(slot_id: int, actor: Manager, slot: SlotDep, db: SessionDep) -> SlotOut:
    """No new bookings; appointments already booked keep their seats."""
    return slot_out(await slots.close_slot(db, slot=slot, actor=actor.actor))


# --------------------------------------------------------------------------- seat holds

holds_router = APIRouter(tags=["seat holds"])


@holds_router.post("/slots/{slot_id}/holds", response_model=HoldOut, status_code=201)
async def hold_a_seat(slot_id: RecordId, actor: Scheduler, slot: SlotDep, wiring: WiringDep) -> HoldOut:
    """Sets a seat aside for CVMS_SEAT_HOLD_SECONDS while the person registers (409 when full)."""
    hold = await seat_holds.hold_a_seat(**wiring.io, location=actor.location, slot=slot, actor=actor.actor)
    return HoldOut.model_validate(hold)


@holds_router.get("/holds/{hold_id}", response_model=HoldOut)
async def read_hold(hold_id: RecordId, actor: Reader, hold: HoldDep) -> HoldOut:
    return HoldOut.model_validate(hold)


@holds_router.post("/holds/{hold_id}/release", response_model=HoldOut, status_code=202)
async def release_a_hold(
    hold_id: RecordId, actor: Scheduler, hold: HoldDep, temporal: TemporalDep
) -> HoldOut:
    """Gives the seat back now (its workflow releases it and tells the waitlist)."""
    await seat_holds.give_back(temporal, hold)
    return HoldOut.model_validate(hold)


# --------------------------------------------------------------------------- appointments

appointments_router = APIRouter(prefix="/appointments", tags=["appointments"])


@appointments_router.post("", response_model=AppointmentOut, status_code=201, dependencies=[ReadsOnly])
async def book_appointment(
    body: BookIn, actor: Scheduler, wiring: WiringDep, idempotency_key: IdempotencyKey = None
) -> AppointmentOut:
    """Books the recipient's next dose in a slot of this location (409 when full or outside the window)."""
    fact, name = await scheduling.book_appointment(
        **wiring.io,
        location=actor.location,
        recipient_id=body.recipient_id,
        slot_id=body.slot_id,
        actor=actor.actor,
        key=idempotency_key or body.idempotency_key,
        dose_number=body.dose_number,
        hold_id=body.hold_id,
        screening=body.screening,
    )
    return from_fact(fact, name)


@appointments_router.get("", response_model=list[AppointmentOut])
async def search_appointments(
    actor: Reader,
    db: SessionDep,
    day: Annotated[date | None, Query(description="a day in the location's time zone")] = None,
    status: Status | None = None,
    recipient_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[AppointmentOut]:
    rows = await scheduling.search_appointments(
        db, actor.location, day=day, status=status, recipient_id=recipient_id, limit=limit
    )
    return [from_fact(fact, name) for fact, name in rows]


@appointments_router.get("/{appointment_id}", response_model=AppointmentOut)
async def read_appointment(
    appointment_id: int, actor: Reader, appointment: AppointmentDep, db: SessionDep
) -> AppointmentOut:
    return from_fact(AppointmentFact.of(appointment), await scheduling.recipient_name(db, appointment))


@appointments_router.post("/{appointment_id}/reschedule", response_model=AppointmentOut)
async def reschedule_appointment(
    appointment_id: int,
    body: RescheduleIn,
    actor: Scheduler,
    appointment: AppointmentDep,
    wiring: WiringDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    """Moves the appointment to another slot of this location: same invite, higher SEQUENCE."""
    name = await scheduling.recipient_name(wiring.db, appointment)
    fact = await scheduling.reschedule(
        **wiring.io,
        location=actor.location,
        appointment=appointment,
        slot_id=body.slot_id,
        actor=actor.actor,
        key=idempotency_key,
    )
    return from_fact(fact, name)


@appointments_router.post("/{appointment_id}/cancel", response_model=AppointmentOut)
async def cancel_appointment(
    appointment_id: int,
    body: CancelIn,
    actor: Scheduler,
    appointment: AppointmentDep,
    wiring: WiringDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    name = await scheduling.recipient_name(wiring.db, appointment)
    fact = await scheduling.cancel(
        **wiring.io, appointment=appointment, reason=body.reason, actor=actor.actor, key=idempotency_key
    )
    return from_fact(fact, name)


@appointments_router.post("/{appointment_id}/check-in", response_model=AppointmentOut)
async def check_in(
    appointment_id: int, actor: Registrar, appointment: AppointmentDep, wiring: WiringDep
) -> AppointmentOut:
    name = await scheduling.recipient_name(wiring.db, appointment)
    fact = await scheduling.check_in(**wiring.io, appointment=appointment, actor=actor.actor)
    return from_fact(fact, name)


@appointments_router.post("/{appointment_id}/no-show", response_model=AppointmentOut)
async def mark_no_show(
    appointment_id: int, actor: Scheduler, appointment: AppointmentDep, wiring: WiringDep
) -> AppointmentOut:
    name = await scheduling.recipient_name(wiring.db, appointment)
    fact = await scheduling.no_show(**wiring.io, appointment=appointment, actor=actor.actor)
    return from_fact(fact, name)
