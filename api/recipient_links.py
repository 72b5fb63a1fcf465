"""What a recipient does through the signed links in their email (no login).

Each link is signed for one purpose (itsdangerous) and expires after
CVMS_RECIPIENT_LINK_MAX_AGE_SECONDS. A tampered or foreign link is a 403
(`code: link_invalid`), an expired one a 410 (`code: link_expired`); either
way nothing changes. Changes go through the journey workflow exactly like a
scheduler's, with the actor "recipient-link".

- GET  /r/appointments/{token}              the appointment
- POST /r/appointments/{token}/cancel       cancel it
- POST /r/appointments/{token}/reschedule   move it to another slot
- GET  /r/book/{token}                      the dose that is due and the slots open for it
- POST /r/book/{token}                      book one of them
- GET  /r/record/{token}                    the vaccination record (JSON)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.journey import LINK_APPOINTMENT, LINK_BOOK, LINK_RECORD, AppointmentFact
from api.appointments import AppointmentOut, book_slot, bookable, from_fact, slot_fact
from api.deps import Public, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, Forbidden, NotFound
from api.journeys import IdempotencyKey, drive, end_transaction, journey_snapshot
from api.security import LinkError, read_link
from api.slots import SlotOut, slot_out
from records.db import utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import Product
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from worker.settings import Settings
from workflows.dose_rules import next_dose_window
from workflows.journey import AppointmentRequest, JourneyWorkflow, RescheduleRequest

router = APIRouter(prefix="/r", tags=["recipient links"])

RECIPIENT = "recipient-link"


class Gone(ApiError):
    status_code = 410


def open_link(settings: Settings, purpose: str, token: str) -> dict[str, Any]:
    try:
        return read_link(settings.secret_key, purpose, token, settings.recipient_link_max_age_seconds)
    except LinkError as error:
        if error.expired:
            raise Gone("this link has expired; contact the vaccination site", code="link_expired") from None
        raise Forbidden("this link is not valid", code="link_invalid") from None


class LocationInfo(BaseModel):
    name: str
    address: str
    phone: str
    time_zone: str


class RecipientAppointment(AppointmentOut):
    location: LocationInfo


class SlotChoice(BaseModel):
    slot_id: int


class CancelByRecipient(BaseModel):
    reason: str = Field(default="cancelled by the recipient", min_length=1, max_length=500)


class BookingChoices(BaseModel):
    journey_id: str
    dose_number: int
    product_code: str
    earliest: datetime | None
    recommended_latest: datetime | None
    slots: list[SlotOut]


class RecordDose(BaseModel):
    dose_number: int
    product: str
    lot_number: str
    given_at: datetime
    location: str


class VaccinationRecord(BaseModel):
    name: str
    date_of_birth: date
    series: str
    product: str | None
    doses_required: int | None
    complete: bool
    doses: list[RecordDose]


def _location_info(location: Location) -> LocationInfo:
    return LocationInfo(
        name=location.name, address=location.address, phone=location.phone, time_zone=location.time_zone
    )


async def _linked_appointment(db: AsyncSession, settings: Settings, token: str) -> Appointment:
    payload = open_link(settings, LINK_APPOINTMENT, token)
    appointment = await db.get(Appointment, payload.get("a"))
    if appointment is None or appointment.journey_id != payload.get("j"):
        raise NotFound("this appointment no longer exists")
    return appointment


async def _journey(db: AsyncSession, journey_id: str) -> Journey:
    journey = await db.get(Journey, journey_id)
    if journey is None:
        raise NotFound("this series no longer exists")
    return journey


@router.get("/appointments/{token}", dependencies=[Public], response_model=RecipientAppointment)
async def see_appointment(token: str, db: SessionDep, settings: SettingsDep) -> RecipientAppointment:
    appointment = await _linked_appointment(db, settings, token)
    location = await db.get(Location, appointment.location_id)
    assert location is not None
    return RecipientAppointment(
        **from_fact(AppointmentFact.of(appointment)).model_dump(), location=_location_info(location)
    )


@router.post("/appointments/{token}/cancel", dependencies=[Public], response_model=AppointmentOut)
async def cancel_by_link(
    token: str,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    body: CancelByRecipient | None = None,
) -> AppointmentOut:
    appointment = await _linked_appointment(db, settings, token)
    journey = await _journey(db, appointment.journey_id)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    request = AppointmentRequest(
        appointment_id=appointment.id, actor=RECIPIENT, reason=(body or CancelByRecipient()).reason
    )
    await end_transaction(db)
    fact = await drive(
        temporal,
        settings,
        snapshot,
        JourneyWorkflow.cancel,
        request,
        operation="cancel",
        key=f"a{request.appointment_id}",
    )
    return from_fact(fact)


@router.post("/appointments/{token}/reschedule", dependencies=[Public], response_model=AppointmentOut)
async def reschedule_by_link(
    token: str,
    body: SlotChoice,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    appointment = await _linked_appointment(db, settings, token)
    slot = await _schedulable_slot(db, body.slot_id)
    bookable(slot)
    journey = await _journey(db, appointment.journey_id)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    request = RescheduleRequest(appointment_id=appointment.id, slot=slot_fact(slot), actor=RECIPIENT)
    await end_transaction(db)
    fact = await drive(
        temporal,
        settings,
        snapshot,
        JourneyWorkflow.reschedule,
        request,
        operation="reschedule",
        key=idempotency_key,
    )
    return from_fact(fact)


async def _schedulable_slot(db: AsyncSession, slot_id: int) -> Slot:
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


@router.get("/book/{token}", dependencies=[Public], response_model=BookingChoices)
async def booking_choices(token: str, db: SessionDep, settings: SettingsDep) -> BookingChoices:
    """The open slots (any scheduling location) for the dose the link is for, within its window."""
    payload = open_link(settings, LINK_BOOK, token)
    journey = await _journey(db, str(payload.get("j")))
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
            Slot.booked < Slot.capacity,
            Slot.start_at > utcnow(),
        )
    )
    if doses:
        window = next_dose_window(product.rule(), doses[0].given_at, settings.day_seconds)
        earliest, latest = window.earliest, window.recommended_latest
        query = query.where(Slot.start_at >= earliest, Slot.start_at <= latest)
    slots = (await db.execute(query.order_by(Slot.start_at).limit(100))).scalars()
    return BookingChoices(
        journey_id=journey.id,
        dose_number=int(payload.get("n", len(doses) + 1)),
        product_code=product.code,
        earliest=earliest,
        recommended_latest=latest,
        slots=[slot_out(s) for s in slots],
    )


@router.post("/book/{token}", dependencies=[Public], response_model=AppointmentOut, status_code=201)
async def book_by_link(
    token: str,
    body: SlotChoice,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    payload = open_link(settings, LINK_BOOK, token)
    journey = await _journey(db, str(payload.get("j")))
    slot = await _schedulable_slot(db, body.slot_id)
    fact = await book_slot(
        db,
        temporal,
        settings,
        recipient_id=journey.recipient_id,
        slot=slot,
        actor=RECIPIENT,
        key=idempotency_key,
        dose_number=int(payload["n"]) if "n" in payload else None,
    )
    return from_fact(fact)


@router.get("/record/{token}", dependencies=[Public], response_model=VaccinationRecord)
async def vaccination_record(token: str, db: SessionDep, settings: SettingsDep) -> VaccinationRecord:
    """The recipient's record of this series (JSON; a printable PDF comes later)."""
    payload = open_link(settings, LINK_RECORD, token)
    recipient = await db.get(Recipient, payload.get("r"))
    journey = await db.get(Journey, payload.get("j"))
    if recipient is None or journey is None or journey.recipient_id != recipient.id:
        raise NotFound("this record no longer exists")
    rows = await db.execute(
        select(Dose, Location)
        .join(Location, Location.id == Dose.location_id)
        .where(Dose.journey_id == journey.id, Dose.removed.is_(False))
        .order_by(Dose.dose_number)
    )
    product = (
        await db.execute(
            select(Product).where(
                Product.code == journey.product_code, Product.version == journey.product_version
            )
        )
    ).scalar_one_or_none()
    doses = [
        RecordDose(
            dose_number=d.dose_number,
            product=product.name if product else d.product_code,
            lot_number=d.lot_number,
            given_at=d.given_at,
            location=loc.name,
        )
        for d, loc in rows.all()
    ]
    return VaccinationRecord(
        name=recipient.full_name,
        date_of_birth=recipient.date_of_birth,
        series=journey.id,
        product=product.name if product else None,
        doses_required=product.doses if product else None,
        complete=journey.status == "complete",
        doses=doses,
    )
