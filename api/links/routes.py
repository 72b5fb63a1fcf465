"""What a recipient does through the signed links in their email (no login): the JSON API.

The checks and actions are services/recipient_links.py's and services/link_waitlist.py's
(the link pages call the same ones). A tampered or foreign link is a 403
(`code: link_invalid`), an expired one a 410 (`code: link_expired`), a second use of a
single-use link a 409 (`code: link_used`).

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
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import IdempotencyKey, Public, RecordId, SessionDep, SettingsDep, WiringDep
from api.links.schemas import (
    AcceptOffer,
    BookingChoice,
    BookingChoices,
    CancelByRecipient,
    HeldSeat,
    JoinByLink,
    LocationInfo,
    OfferView,
    RecipientAppointment,
    ScreeningPrompt,
    SlotChoice,
    VaccinationRecord,
)
from api.scheduling.schemas import AppointmentOut, HoldOut, from_fact, slot_out
from api.waitlist.schemas import EntryOut, entry_out
from domain.journey_messages import AppointmentFact
from records.eligibility import screening_questions
from records.locations import Location
from services import link_waitlist, recipient_links

router = APIRouter(prefix="/r", tags=["recipient links"])


async def screening_prompts(db: AsyncSession, product_code: str) -> list[ScreeningPrompt]:
    return [
        ScreeningPrompt(code=q.code, prompt=q.prompt, prompt_es=q.prompt_es)
        for q in await screening_questions(db, product_code)
    ]


def location_info(location: Location) -> LocationInfo:
    return LocationInfo(
        name=location.name, address=location.address, phone=location.phone, time_zone=location.time_zone
    )


@router.get("/appointments/{token}", dependencies=[Public], response_model=RecipientAppointment)
async def see_appointment(token: str, db: SessionDep, settings: SettingsDep) -> RecipientAppointment:
    appointment = await recipient_links.linked_appointment(db, settings, token)
    location = await db.get(Location, appointment.location_id)
    assert location is not None
    return RecipientAppointment(
        **from_fact(AppointmentFact.of(appointment)).model_dump(),
        location=location_info(location),
        link_used=await recipient_links.appointment_link_use(db, settings, token) is not None,
    )


@router.post("/appointments/{token}/cancel", dependencies=[Public], response_model=AppointmentOut)
async def cancel_by_link(
    token: str, wiring: WiringDep, body: CancelByRecipient | None = None
) -> AppointmentOut:
    """Cancels the appointment; the link is spent by it (a second use is a 409)."""
    fact = await recipient_links.cancel_by_link(
        **wiring.io_sessions, token=token, reason=(body or CancelByRecipient()).reason
    )
    return from_fact(fact)


@router.post("/appointments/{token}/reschedule", dependencies=[Public], response_model=AppointmentOut)
async def reschedule_by_link(
    token: str, body: SlotChoice, wiring: WiringDep, idempotency_key: IdempotencyKey = None
) -> AppointmentOut:
    """Moves the appointment to another slot; the link is spent by it (the email about the new
    time brings a new one)."""
    fact = await recipient_links.reschedule_by_link(
        **wiring.io_sessions, token=token, slot_id=body.slot_id, key=idempotency_key
    )
    return from_fact(fact)


@router.get("/book/{token}", dependencies=[Public], response_model=BookingChoices)
async def booking_choices(token: str, db: SessionDep, settings: SettingsDep) -> BookingChoices:
    """The open slots (any scheduling location) for the dose the link is for, within its window."""
    options = await recipient_links.booking_options(db, settings, token)
    return BookingChoices(
        journey_id=options.journey.id,
        dose_number=options.dose_number,
        product_code=options.product_code,
        earliest=options.earliest,
        recommended_latest=options.recommended_latest,
        slots=[slot_out(s) for s in options.slots],
        screening_questions=await screening_prompts(db, options.product_code),
    )


@router.post("/book/{token}", dependencies=[Public], response_model=AppointmentOut, status_code=201)
async def book_by_link(
    token: str, body: BookingChoice, wiring: WiringDep, idempotency_key: IdempotencyKey = None
) -> AppointmentOut:
    fact = await recipient_links.book_by_link(
        **wiring.io_sessions,
        token=token,
        slot_id=body.slot_id,
        hold_id=body.hold_id,
        screening=body.screening,
        key=idempotency_key,
    )
    return from_fact(fact)


@router.post("/book/{token}/holds", dependencies=[Public], response_model=HoldOut, status_code=201)
async def hold_by_link(token: str, body: SlotChoice, wiring: WiringDep) -> HoldOut:
    """Sets the chosen seat aside for CVMS_SEAT_HOLD_SECONDS while the person answers the screening
    questions and confirms; choosing again gives back the seat chosen before (409 when full)."""
    hold = await recipient_links.hold_by_link(**wiring.io, token=token, slot_id=body.slot_id)
    return HoldOut.model_validate(hold)


@router.get("/book/{token}/holds/{hold_id}", dependencies=[Public], response_model=HeldSeat)
async def see_hold(token: str, hold_id: RecordId, db: SessionDep, settings: SettingsDep) -> HeldSeat:
    held = await recipient_links.held_seat(db, settings, token, hold_id)
    return HeldSeat(
        hold=HoldOut.model_validate(held.hold),
        slot=slot_out(held.slot),
        location=location_info(held.location),
        screening_questions=await screening_prompts(db, held.slot.product_code),
    )


@router.post(
    "/book/{token}/holds/{hold_id}/release", dependencies=[Public], response_model=HoldOut, status_code=202
)
async def release_by_link(token: str, hold_id: RecordId, wiring: WiringDep) -> HoldOut:
    """Gives the held seat back now (the person chooses another time or leaves)."""
    hold = await recipient_links.release_by_link(**wiring.io, token=token, hold_id=hold_id)
    return HoldOut.model_validate(hold)


@router.post("/book/{token}/waitlist", dependencies=[Public], response_model=EntryOut, status_code=201)
async def join_waitlist_by_link(token: str, body: JoinByLink, wiring: WiringDep) -> EntryOut:
    """No suitable seat is free: wait for one at a location, for the series' product, between two dates."""
    entry = await link_waitlist.join_waitlist_by_link(
        **wiring.io, token=token, location_id=body.location_id, dates=body
    )
    return await entry_out(wiring.db, entry)


@router.get("/waitlist-offers/{token}", dependencies=[Public], response_model=OfferView)
async def see_offer(token: str, db: SessionDep, settings: SettingsDep) -> OfferView:
    offer, entry, slot, location = await link_waitlist.offered_seat(db, settings, token)
    return OfferView(
        offer_id=offer.id,
        status=offer.status,
        expires_at=offer.expires_at,
        product_code=entry.product_code,
        slot=slot_out(slot),
        location=location_info(location),
        screening_questions=await screening_prompts(db, entry.product_code),
    )


@router.post(
    "/waitlist-offers/{token}/accept", dependencies=[Public], response_model=AppointmentOut, status_code=201
)
async def accept_offer(token: str, wiring: WiringDep, body: AcceptOffer | None = None) -> AppointmentOut:
    """Books the offered seat (the one held for this person) while the offer is pending."""
    fact = await link_waitlist.accept_offer(
        **wiring.io_sessions, token=token, screening=(body or AcceptOffer()).screening
    )
    return from_fact(fact)


@router.get("/record/{token}", dependencies=[Public], response_model=VaccinationRecord)
async def vaccination_record(token: str, db: SessionDep, settings: SettingsDep) -> VaccinationRecord:
    """The recipient's record of this series (JSON; a printable PDF comes later)."""
    record = await recipient_links.linked_record(db, settings, token)
    return VaccinationRecord.model_validate(asdict(record))
