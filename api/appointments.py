"""Appointments: schedulers book dose 1 and 2, reschedule, cancel, mark no-shows; staff check in.

Lists and search read the database; every change is a Workflow Update of the
recipient's journey, which does the database step (a seat is claimed with one
conditional UPDATE) and answers synchronously.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    Reader,
    ReadsOnly,
    Registrar,
    Scheduler,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.eligibility import Screening
from api.errors import Conflict, NotFound
from api.journeys import IdempotencyKey
from domain.journey_messages import AppointmentFact
from domain.scheduling import AppointmentStatus
from records.db import utcnow
from records.holds import SeatHold
from records.journeys import Journey
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from services.journeys import drive, end_transaction, journey_snapshot
from services.scheduling import book_slot, bookable, day_bounds, require_scheduling, slot_fact
from workflows.journey import AppointmentRequest, JourneyWorkflow, RescheduleRequest

router = APIRouter(prefix="/appointments", tags=["appointments"])

Status = Literal["booked", "checked_in", "cancelled", "missed", "completed"]


class BookIn(BaseModel):
    recipient_id: int
    slot_id: int
    dose_number: int | None = Field(default=None, ge=1, le=10, description="checked against the series")
    idempotency_key: str | None = Field(default=None, max_length=120, description="or the header")
    hold_id: int | None = Field(
        default=None, ge=1, description="a seat held in this slot (POST /slots/…/holds)"
    )
    screening: Screening | None = Field(default=None, description="screening answers by question code")


class RescheduleIn(BaseModel):
    slot_id: int


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class AppointmentOut(BaseModel):
    id: int
    journey_id: str
    recipient_id: int
    location_id: int
    slot_id: int
    start_at: datetime
    end_at: datetime
    product_code: str
    dose_number: int
    status: str
    invite_sequence: int
    recipient_name: str | None = None


def from_fact(fact: AppointmentFact, recipient_name: str | None = None) -> AppointmentOut:
    return AppointmentOut(
        id=fact.appointment_id,
        journey_id=fact.journey_id,
        recipient_id=fact.recipient_id,
        location_id=fact.location_id,
        slot_id=fact.slot_id,
        start_at=fact.start_at,
        end_at=fact.end_at,
        product_code=fact.product_code,
        dose_number=fact.dose_number,
        status=fact.status,
        invite_sequence=fact.invite_sequence,
        recipient_name=recipient_name,
    )


async def load_appointment(appointment_id: int, actor: Reader, db: SessionDep) -> Appointment:
    """An appointment at the active location; another location's is a 404."""
    row = (
        await db.execute(
            select(Appointment).where(
                Appointment.id == appointment_id, Appointment.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such appointment at this location")
    return row


AppointmentDep = Annotated[Appointment, Depends(load_appointment)]


async def series_of(db: AsyncSession, appointment: Appointment) -> int:
    journey = await db.get(Journey, appointment.journey_id)
    if journey is None:
        raise NotFound("no such appointment")
    return journey.series_no


@router.post("", response_model=AppointmentOut, status_code=201, dependencies=[ReadsOnly])
async def book_appointment(
    body: BookIn,
    actor: Scheduler,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    """Books the recipient's next dose in a slot of this location (409 when full or outside the window)."""
    require_scheduling(actor.location)
    slot = (
        await db.execute(select(Slot).where(Slot.id == body.slot_id, Slot.location_id == actor.location.id))
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("no such slot at this location")
    recipient = await db.get(Recipient, body.recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    if body.hold_id is not None:
        hold = await db.get(SeatHold, body.hold_id)
        if hold is None or hold.location_id != actor.location.id or hold.slot_id != slot.id:
            raise NotFound("no such seat hold in this slot")
    name = recipient.full_name
    fact = await book_slot(
        db,
        temporal,
        settings,
        recipient_id=recipient.id,
        slot=slot,
        actor=actor.actor,
        key=idempotency_key or body.idempotency_key,
        dose_number=body.dose_number,
        hold_id=body.hold_id,
        screening=body.screening,
    )
    return from_fact(fact, name)


@router.get("", response_model=list[AppointmentOut])
async def search_appointments(
    actor: Reader,
    db: SessionDep,
    day: Annotated[date | None, Query(description="a day in the location's time zone")] = None,
    status: Status | None = None,
    recipient_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[AppointmentOut]:
    query = (
        select(Appointment, Recipient)
        .join(Recipient, Recipient.id == Appointment.recipient_id)
        .where(Appointment.location_id == actor.location.id)
    )
    if day is not None:
        start, end = day_bounds(day, actor.location.time_zone)
        query = query.where(Appointment.start_at >= start, Appointment.start_at < end)
    if status is not None:
        query = query.where(Appointment.status == status)
    if recipient_id is not None:
        query = query.where(Appointment.recipient_id == recipient_id)
    rows = await db.execute(query.order_by(Appointment.start_at, Appointment.id).limit(limit))
    return [from_fact(AppointmentFact.of(a), r.full_name) for a, r in rows.all()]


@router.get("/{appointment_id}", response_model=AppointmentOut)
async def read_appointment(
    appointment_id: int, actor: Reader, appointment: AppointmentDep, db: SessionDep
) -> AppointmentOut:
    recipient = await db.get(Recipient, appointment.recipient_id)
    return from_fact(AppointmentFact.of(appointment), recipient.full_name if recipient else None)


async def _change(
    db: AsyncSession,
    temporal: TemporalDep,
    settings: SettingsDep,
    appointment: Appointment,
    update: object,
    request: object,
    operation: str,
    key: str | None,
) -> AppointmentOut:
    series_no = await series_of(db, appointment)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, series_no)
    await end_transaction(db)
    fact = await drive(temporal, settings, snapshot, update, request, operation=operation, key=key)
    return from_fact(fact)


@router.post("/{appointment_id}/reschedule", response_model=AppointmentOut)
async def reschedule_appointment(
    appointment_id: int,
    body: RescheduleIn,
    actor: Scheduler,
    appointment: AppointmentDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    """Moves the appointment to another slot of this location: same invite, higher SEQUENCE."""
    require_scheduling(actor.location)
    slot = (
        await db.execute(select(Slot).where(Slot.id == body.slot_id, Slot.location_id == actor.location.id))
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("no such slot at this location")
    bookable(slot)
    request = RescheduleRequest(appointment_id=appointment.id, slot=slot_fact(slot), actor=actor.actor)
    return await _change(
        db,
        temporal,
        settings,
        appointment,
        JourneyWorkflow.reschedule,
        request,
        "reschedule",
        idempotency_key,
    )


@router.post("/{appointment_id}/cancel", response_model=AppointmentOut)
async def cancel_appointment(
    appointment_id: int,
    body: CancelIn,
    actor: Scheduler,
    appointment: AppointmentDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    request = AppointmentRequest(appointment_id=appointment.id, actor=actor.actor, reason=body.reason)
    return await _change(
        db, temporal, settings, appointment, JourneyWorkflow.cancel, request, "cancel", idempotency_key
    )


@router.post("/{appointment_id}/check-in", response_model=AppointmentOut)
async def check_in(
    appointment_id: int,
    actor: Registrar,
    appointment: AppointmentDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> AppointmentOut:
    request = AppointmentRequest(appointment_id=appointment.id, actor=actor.actor)
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


@router.post("/{appointment_id}/no-show", response_model=AppointmentOut)
async def mark_no_show(
    appointment_id: int,
    actor: Scheduler,
    appointment: AppointmentDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> AppointmentOut:
    if appointment.status == AppointmentStatus.booked and appointment.start_at > utcnow():
        raise Conflict("this appointment has not started yet", code="not_started")
    request = AppointmentRequest(appointment_id=appointment.id, actor=actor.actor)
    return await _change(
        db, temporal, settings, appointment, JourneyWorkflow.no_show, request, "no-show", f"a{appointment.id}"
    )
