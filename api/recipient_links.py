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
- POST /r/book/{token}/holds                hold a chosen seat while the person confirms
- GET  /r/book/{token}/holds/{hold_id}      the held seat, until when, and the screening questions
- POST /r/book/{token}/holds/{hold_id}/release  give it back (choose another time)
- POST /r/book/{token}                      book one of them (with `hold_id`: the seat held)
- POST /r/book/{token}/waitlist             no seat suits: join a location's waitlist instead
- GET  /r/waitlist-offers/{token}           a seat offered from the waitlist, held until it runs out
- POST /r/waitlist-offers/{token}/accept    book it
- GET  /r/record/{token}                    the vaccination record (JSON)

A link that books (booking, waitlist offer) or changes an appointment (cancel,
reschedule) is single-use: its id (jti) is recorded in `used_links` (primary
key) when it acts, so a second use is a 409 (`code: link_used`); a refused
action frees it again. A used appointment link still shows the appointment
(`link_used`). An offer link works only for the person it was issued to, and
only while their offer is pending.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import Public, RecordId, SessionDep, SettingsDep, TemporalDep
from api.eligibility.schemas import Screening
from api.errors import ApiError, Conflict, Forbidden, Gone, NotFound
from api.journeys import IdempotencyKey, SessionsDep
from api.scheduling.schemas import AppointmentOut, HoldOut, SlotOut, from_fact, slot_out
from api.waitlist.schemas import Dates, EntryOut, entry_out
from domain.dose_rules import next_dose_window
from domain.journey_messages import LINK_APPOINTMENT, LINK_BOOK, LINK_RECORD, AppointmentFact, JourneyStatus
from domain.scheduling import LINK_WAITLIST_OFFER, EntryStatus, HoldStatus, OfferStatus, offer_link_id
from domain.security import LinkError, read_link, token_digest
from domain.settings import Settings
from records.db import transaction, utcnow
from records.eligibility import screening_questions
from records.holds import SeatHold
from records.journeys import Dose, Journey
from records.links import UsedLink
from records.locations import Location
from records.products import Product
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry, WaitlistOffer
from services.journeys import drive, end_transaction, journey_snapshot
from services.scheduling import book_slot, bookable, give_back, place_hold, slot_fact
from services.waitlist import add_to_waitlist
from workflows.journey import AppointmentRequest, JourneyWorkflow, RescheduleRequest

router = APIRouter(prefix="/r", tags=["recipient links"])

RECIPIENT = "recipient-link"
# How an appointment link was used (used_links.purpose), so its page can say what happened.
USED_TO_CANCEL = f"{LINK_APPOINTMENT}:cancel"
USED_TO_RESCHEDULE = f"{LINK_APPOINTMENT}:reschedule"


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
    link_used: bool = Field(description="this link already cancelled or moved the appointment")


class SlotChoice(BaseModel):
    slot_id: int


class BookingChoice(SlotChoice):
    screening: Screening | None = None
    hold_id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="the seat held for this")


class AcceptOffer(BaseModel):
    screening: Screening | None = None


class JoinByLink(Dates):
    location_id: int = Field(ge=1, le=2_147_483_647)


class OfferView(BaseModel):
    offer_id: int
    status: str
    expires_at: datetime
    product_code: str
    slot: SlotOut
    location: LocationInfo
    screening_questions: list[ScreeningPrompt]  # answer each when accepting


class CancelByRecipient(BaseModel):
    reason: str = Field(default="cancelled by the recipient", min_length=1, max_length=500)


class ScreeningPrompt(BaseModel):
    code: str
    prompt: str
    prompt_es: str | None  # None: ask in English


class BookingChoices(BaseModel):
    journey_id: str
    dose_number: int
    product_code: str
    earliest: datetime | None
    recommended_latest: datetime | None
    slots: list[SlotOut]
    screening_questions: list[ScreeningPrompt]  # answer each in the booking's `screening`


async def screening_prompts(db: AsyncSession, product_code: str) -> list[ScreeningPrompt]:
    return [
        ScreeningPrompt(code=q.code, prompt=q.prompt, prompt_es=q.prompt_es)
        for q in await screening_questions(db, product_code)
    ]


class HeldSeat(BaseModel):
    hold: HoldOut
    slot: SlotOut
    location: LocationInfo
    screening_questions: list[ScreeningPrompt]  # answer each in the booking's `screening`


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


def link_id(payload: dict[str, Any], token: str) -> str:
    """The single-use id (jti) of a link: its own "t" when it carries one, else the token's digest."""
    return str(payload.get("t") or token_digest(token))


async def appointment_link_use(db: AsyncSession, settings: Settings, token: str) -> UsedLink | None:
    """How this appointment link was used (cancel or reschedule), or None while it is unused."""
    return await db.get(UsedLink, link_id(open_link(settings, LINK_APPOINTMENT, token), token))


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
        **from_fact(AppointmentFact.of(appointment)).model_dump(),
        location=_location_info(location),
        link_used=await appointment_link_use(db, settings, token) is not None,
    )


@router.post("/appointments/{token}/cancel", dependencies=[Public], response_model=AppointmentOut)
async def cancel_by_link(
    token: str,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    body: CancelByRecipient | None = None,
) -> AppointmentOut:
    """Cancels the appointment; the link is spent by it (a second use is a 409)."""
    appointment = await _linked_appointment(db, settings, token)
    journey = await _journey(db, appointment.journey_id)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    request = AppointmentRequest(
        appointment_id=appointment.id, actor=RECIPIENT, reason=(body or CancelByRecipient()).reason
    )
    jti = link_id(open_link(settings, LINK_APPOINTMENT, token), token)
    await claim_link(db, jti, USED_TO_CANCEL, f"recipient:{appointment.recipient_id}")
    await end_transaction(db)
    async with single_use(db, sessions, jti):
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
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    """Moves the appointment to another slot; the link is spent by it (the email about the new
    time brings a new one)."""
    appointment = await _linked_appointment(db, settings, token)
    slot = await _schedulable_slot(db, body.slot_id)
    bookable(slot)
    journey = await _journey(db, appointment.journey_id)
    snapshot = await journey_snapshot(db, settings, appointment.recipient_id, journey.series_no)
    request = RescheduleRequest(appointment_id=appointment.id, slot=slot_fact(slot), actor=RECIPIENT)
    jti = link_id(open_link(settings, LINK_APPOINTMENT, token), token)
    await claim_link(db, jti, USED_TO_RESCHEDULE, f"recipient:{appointment.recipient_id}")
    await end_transaction(db)
    async with single_use(db, sessions, jti):
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
            Slot.booked + Slot.held < Slot.capacity,
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
        screening_questions=await screening_prompts(db, product.code),
    )


@router.post("/book/{token}", dependencies=[Public], response_model=AppointmentOut, status_code=201)
async def book_by_link(
    token: str,
    body: BookingChoice,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> AppointmentOut:
    payload, journey, jti = await _booking_link(db, settings, token)
    if journey.status == JourneyStatus.complete:
        raise Conflict("this series is already complete; nothing is left to book", code="series_complete")
    slot = await _schedulable_slot(db, body.slot_id)
    if body.hold_id is not None and (await _linked_hold(db, journey, body.hold_id)).slot_id != slot.id:
        raise NotFound("no such seat hold in this slot")
    await claim_link(db, jti, LINK_BOOK, f"recipient:{journey.recipient_id}")
    async with single_use(db, sessions, jti):
        fact = await book_slot(
            db,
            temporal,
            settings,
            recipient_id=journey.recipient_id,
            slot=slot,
            actor=RECIPIENT,
            key=idempotency_key,
            dose_number=int(payload["n"]) if "n" in payload else None,
            hold_id=body.hold_id,
            screening=body.screening,
        )
    return from_fact(fact)


def link_holder(journey: Journey) -> str:
    """Who holds a seat chosen through a booking link: the recipient (one seat at a time)."""
    return f"{RECIPIENT}:{journey.recipient_id}"


async def _booking_link(db: AsyncSession, settings: Settings, token: str) -> tuple[dict, Journey, str]:
    """The booking link's payload, its series, and its id (the used-links key)."""
    payload = open_link(settings, LINK_BOOK, token)
    journey = await _journey(db, str(payload.get("j")))
    return payload, journey, link_id(payload, token)


async def _linked_hold(db: AsyncSession, journey: Journey, hold_id: int) -> SeatHold:
    hold = await db.get(SeatHold, hold_id)
    if hold is None or hold.held_by != link_holder(journey):
        raise NotFound("no such seat hold for this link")
    return hold


@router.post("/book/{token}/holds", dependencies=[Public], response_model=HoldOut, status_code=201)
async def hold_by_link(
    token: str, body: SlotChoice, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> HoldOut:
    """Sets the chosen seat aside for CVMS_SEAT_HOLD_SECONDS while the person answers the screening
    questions and confirms; choosing again gives back the seat chosen before (409 when full)."""
    _payload, journey, jti = await _booking_link(db, settings, token)
    if journey.status == JourneyStatus.complete:
        raise Conflict("this series is already complete; nothing is left to book", code="series_complete")
    if await db.get(UsedLink, jti) is not None:
        raise Conflict("this link has already been used", code="link_used")
    slot = await _schedulable_slot(db, body.slot_id)
    holder = link_holder(journey)
    earlier = (
        await db.execute(
            select(SeatHold).where(SeatHold.held_by == holder, SeatHold.status == HoldStatus.held.value)
        )
    ).scalars()
    for hold in earlier:
        if hold.slot_id == slot.id and hold.expires_at > utcnow():
            return HoldOut.model_validate(hold)  # the same choice again (a reload, a double click)
        await give_back(temporal, hold)
    return HoldOut.model_validate(await place_hold(db, temporal, settings, slot=slot, held_by=holder))


@router.get("/book/{token}/holds/{hold_id}", dependencies=[Public], response_model=HeldSeat)
async def see_hold(token: str, hold_id: RecordId, db: SessionDep, settings: SettingsDep) -> HeldSeat:
    _payload, journey, _jti = await _booking_link(db, settings, token)
    hold = await _linked_hold(db, journey, hold_id)
    slot = await db.get(Slot, hold.slot_id)
    location = await db.get(Location, hold.location_id)
    assert slot is not None and location is not None
    return HeldSeat(
        hold=HoldOut.model_validate(hold),
        slot=slot_out(slot),
        location=_location_info(location),
        screening_questions=await screening_prompts(db, slot.product_code),
    )


@router.post(
    "/book/{token}/holds/{hold_id}/release", dependencies=[Public], response_model=HoldOut, status_code=202
)
async def release_by_link(
    token: str, hold_id: RecordId, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> HoldOut:
    """Gives the held seat back now (the person chooses another time or leaves)."""
    _payload, journey, _jti = await _booking_link(db, settings, token)
    hold = await _linked_hold(db, journey, hold_id)
    await give_back(temporal, hold)
    return HoldOut.model_validate(hold)


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
    except ApiError:
        # Refused before the request committed: the rollback drops the claim (and frees SQLite's
        # write lock for the cleanup below). Refused by the workflow: the claim was committed.
        await db.rollback()
        async with transaction(sessions) as cleanup:
            await cleanup.execute(delete(UsedLink).where(UsedLink.jti == jti))
        raise


@router.post("/book/{token}/waitlist", dependencies=[Public], response_model=EntryOut, status_code=201)
async def join_waitlist_by_link(
    token: str, body: JoinByLink, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> EntryOut:
    """No suitable seat is free: wait for one at a location, for the series' product, between two dates."""
    payload = open_link(settings, LINK_BOOK, token)
    journey = await _journey(db, str(payload.get("j")))
    if journey.status == JourneyStatus.complete:
        raise Conflict("this series is already complete; nothing is left to book", code="series_complete")
    if journey.product_code is None:
        raise NotFound("this series has no product yet; ask the vaccination site")
    location = await db.get(Location, body.location_id)
    if location is None:
        raise NotFound("no such location")
    entry = await add_to_waitlist(
        db,
        temporal,
        settings,
        location=location,
        recipient_id=journey.recipient_id,
        product_code=journey.product_code,
        dates=body,
        added_by=RECIPIENT,
    )
    return await entry_out(db, entry)


async def _linked_offer(
    db: AsyncSession, settings: Settings, token: str
) -> tuple[dict, WaitlistOffer, WaitlistEntry]:
    payload = open_link(settings, LINK_WAITLIST_OFFER, token)
    offer = await db.get(WaitlistOffer, payload.get("o"))
    entry = await db.get(WaitlistEntry, offer.entry_id) if offer is not None else None
    if offer is None or entry is None:
        raise NotFound("this offer no longer exists")
    if entry.recipient_id != payload.get("r"):
        raise Forbidden("this link was issued to someone else", code="link_not_yours")
    return payload, offer, entry


@router.get("/waitlist-offers/{token}", dependencies=[Public], response_model=OfferView)
async def see_offer(token: str, db: SessionDep, settings: SettingsDep) -> OfferView:
    _payload, offer, entry = await _linked_offer(db, settings, token)
    slot = await db.get(Slot, offer.slot_id)
    location = await db.get(Location, entry.location_id)
    assert slot is not None and location is not None
    return OfferView(
        offer_id=offer.id,
        status=offer.status,
        expires_at=offer.expires_at,
        product_code=entry.product_code,
        slot=slot_out(slot),
        location=_location_info(location),
        screening_questions=await screening_prompts(db, entry.product_code),
    )


@router.post(
    "/waitlist-offers/{token}/accept", dependencies=[Public], response_model=AppointmentOut, status_code=201
)
async def accept_offer(
    token: str,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    body: AcceptOffer | None = None,
) -> AppointmentOut:
    """Books the offered seat (the one held for this person) while the offer is pending."""
    payload, offer, entry = await _linked_offer(db, settings, token)
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
        fact = await book_slot(
            db,
            temporal,
            settings,
            recipient_id=entry.recipient_id,
            slot=slot,
            actor=RECIPIENT,
            key=jti,
            dose_number=None,
            hold_id=hold_id,
            screening=(body or AcceptOffer()).screening,
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
