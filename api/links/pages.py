"""The recipient's pages behind the signed links in their email (no login): my appointment,
cancel it, choose another time, book the next dose, my vaccination record and its PDF.

They sit at the same /r/… addresses as the JSON link API and call the same functions:
a browser (a GET that accepts HTML, or a form post) gets the page, any other client
the JSON. Pages speak the recipient's language unless they switch it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from api.deps import Public, RecordId, SessionDep, SettingsDep, Wiring, WiringDep
from api.eligibility.pages import Refusal, answers_from, questions_for, refusal_of
from api.errors import Conflict, Unprocessable, http_status
from api.exports.vaccination_record import pdf_response, record_pdf, registration_form_pdf
from api.links.schemas import JoinByLink
from api.pages import i18n
from api.pages.choices import DATES_IN_ORDER, RECIPIENT_NOTICES
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import BrowserRoute, PageRoute, field_errors, redirect, refusal_errors, render
from api.scheduling.schemas import slot_out
from domain.journey_messages import LINK_APPOINTMENT
from domain.scheduling import HoldStatus
from domain.security import sign_link
from domain.settings import Settings
from records.db import reading, transaction, utcnow
from records.locations import Location
from records.products import current_product
from records.recipients import Recipient
from records.scheduling import Slot
from services import catalog, link_waitlist, recipient_links
from services.exports import load_record

router = APIRouter(prefix="/r", route_class=BrowserRoute, include_in_schema=False)
downloads = APIRouter(prefix="/r", route_class=PageRoute, include_in_schema=False)


def _language(request: Request, recipient: Recipient | None) -> str:
    return i18n.request_language(request, recipient.preferred_language if recipient else None)


async def _slot_rows(db: AsyncSession, slots: list[Slot]) -> list[dict[str, Any]]:
    locations = {
        loc.id: loc
        for loc in (
            await db.execute(select(Location).where(Location.id.in_({s.location_id for s in slots})))
        ).scalars()
    }
    return [{"slot": slot_out(s), "location": locations[s.location_id]} for s in slots]


@router.get("/appointments/{token}", dependencies=[Public])
async def appointment_page(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    return await _appointment_page(request, token, db, settings)


async def _appointment_page(
    request: Request, token: str, db: SessionDep, settings: SettingsDep, status_code: int = 200
) -> Response:
    """The appointment; while the link is unused, the forms that move or cancel it. A used link
    says what it was used for, and offers nothing more."""
    appointment = await recipient_links.linked_appointment(db, settings, token)
    location = await db.get(Location, appointment.location_id)
    recipient = await db.get(Recipient, appointment.recipient_id)
    used = await recipient_links.appointment_link_use(db, settings, token)
    choices = (
        []
        if used
        else await _slot_rows(db, await recipient_links.reschedule_options(db, settings, appointment))
    )
    return render(
        request,
        "recipient/appointment.html",
        status_code=status_code,
        language=_language(request, recipient),
        notices=RECIPIENT_NOTICES,
        time_zone=location.time_zone if location else None,
        token=token,
        appointment=appointment,
        location=location,
        recipient=recipient,
        choices=choices,
        product_name=await _product_name(db, appointment.product_code),
        rebook=recipient_links.rebooking_token(settings, appointment),
        used_for=used.purpose if used else None,
        used_to_cancel=recipient_links.USED_TO_CANCEL,
        used_to_reschedule=recipient_links.USED_TO_RESCHEDULE,
    )


async def _confirm_cancel(request: Request, token: str, db: AsyncSession, settings: Settings) -> Response:
    appointment = await recipient_links.linked_appointment(db, settings, token)
    location = await db.get(Location, appointment.location_id)
    recipient = await db.get(Recipient, appointment.recipient_id)
    return render(
        request,
        "recipient/confirm_cancel.html",
        here=f"/r/appointments/{token}",
        language=_language(request, recipient),
        time_zone=location.time_zone if location else None,
        token=token,
        appointment=appointment,
        location=location,
        product_name=await _product_name(db, appointment.product_code),
    )


async def _product_name(db: AsyncSession, code: str | None) -> str:
    return (await catalog.product_names(db)).get(code or "", code or "")


@router.post("/appointments/{token}/cancel", dependencies=[Public])
async def cancel_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    """Asks once ("Cancel this appointment?") while the link can still cancel; then cancels."""
    if str(form.get("confirmed", "")) != "yes" and not await recipient_links.appointment_link_use(
        wiring.db, wiring.settings, token
    ):
        return await _confirm_cancel(request, token, wiring.db, wiring.settings)
    try:
        await recipient_links.cancel_by_link(**wiring.io_sessions, token=token)
    except Conflict as exc:
        return await _refused_reuse(request, token, wiring, exc)
    return redirect(f"/r/appointments/{token}?notice=appointment_cancelled")


@router.post("/appointments/{token}/reschedule", dependencies=[Public])
async def reschedule_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    slot_id = _slot_id(form)
    try:
        await recipient_links.reschedule_by_link(**wiring.io_sessions, token=token, slot_id=slot_id, key=None)
    except Conflict as exc:
        return await _refused_reuse(request, token, wiring, exc)
    return redirect(f"/r/appointments/{token}?notice=appointment_rescheduled")


async def _refused_reuse(request: Request, token: str, wiring: Wiring, exc: Conflict) -> Response:
    """A spent link used again: the appointment page, as a 409, saying what the link was used for."""
    if exc.code != "link_used":
        raise exc
    await wiring.db.rollback()  # the refused request writes nothing
    async with transaction(wiring.sessions) as fresh:
        return await _appointment_page(request, token, fresh, wiring.settings, status_code=409)


def _slot_id(form: Any, name: str = "slot_id") -> int:
    try:
        return int(str(form.get(name, "")))
    except ValueError:
        raise Unprocessable(N_("Choose one of the times offered.")) from None


@router.get("/book/{token}", dependencies=[Public])
async def booking_page(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    return await _booking_page(request, token, db, settings)


async def _booking_page(
    request: Request,
    token: str,
    db: AsyncSession,
    settings: Settings,
    *,
    failed: str | None = None,
    waitlist_form: dict[str, str] | None = None,
    waitlist_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    choices = await recipient_links.booking_options(db, settings, token)
    journey = choices.journey
    recipient = await db.get(Recipient, journey.recipient_id)
    waitlist = await link_waitlist.waitlist_choices(db, journey, choices)
    if waitlist_form is not None:  # shown again after a refusal: what was posted, and why
        waitlist.update(waitlist_form=waitlist_form, waitlist_errors=waitlist_errors or {})
    slots = await _slot_rows(db, choices.slots)
    return render(
        request,
        "recipient/book.html",
        status_code=status_code,
        # The times read in the zone of the places offered (one programme, one zone in practice).
        time_zone=slots[0]["location"].time_zone if slots else None,
        here=f"/r/book/{token}",
        language=_language(request, recipient),
        notices=RECIPIENT_NOTICES,
        token=token,
        choices=choices,
        product_name=await _product_name(db, choices.product_code),
        slots=slots,
        recipient=recipient,
        failed=failed,
        **waitlist,
    )


# What the booking page's waitlist form posts (api.links.schemas.JoinByLink).
WAITLIST_FIELDS = ("location_id", "earliest_date", "latest_date")
CHOOSE_A_PLACE = N_("Choose one of the places offered.")


@router.post("/book/{token}/waitlist", dependencies=[Public])
async def waitlist_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    """No time suits: join a place's waitlist for the series' product between two dates. Joining
    again (a double click, a reload) says so and adds nothing; a bad value is said beside its field."""
    posted = {name: str(form.get(name, "")).strip() for name in WAITLIST_FIELDS}
    errors: dict[str, str] = {}
    try:
        body = JoinByLink(**posted)
    except ValidationError as exc:
        errors = field_errors(exc, across=DATES_IN_ORDER)
        if "location_id" in errors:
            errors["location_id"] = CHOOSE_A_PLACE
    else:
        place = await wiring.db.get(Location, body.location_id)
        if place is None or not place.scheduling_enabled:
            errors = {"location_id": CHOOSE_A_PLACE}
    if not errors:
        try:
            await link_waitlist.join_waitlist_by_link(
                **wiring.io, token=token, location_id=body.location_id, dates=body
            )
        except Conflict as refused:
            if refused.code != "already_waitlisted":
                raise
            await wiring.db.rollback()  # a join at the same moment may have left the transaction unusable
            return redirect(f"/r/book/{token}?notice=waitlist_already")
        except Unprocessable as refused:
            errors = refusal_errors(refused)
    if errors:
        return await _booking_page(
            request,
            token,
            wiring.db,
            wiring.settings,
            waitlist_form=posted,
            waitlist_errors=errors,
            status_code=422,
        )
    return redirect(f"/r/book/{token}?notice=waitlist_joined")


@router.post("/book/{token}/holds", dependencies=[Public])
async def hold_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    """The chosen time's seat is held while the person answers the questions and confirms."""
    slot_id = _slot_id(form)
    try:
        hold = await recipient_links.hold_by_link(**wiring.io, token=token, slot_id=slot_id)
    except Conflict as refused:
        async with reading(wiring.sessions) as fresh:
            return await _booking_page(
                request,
                token,
                fresh,
                wiring.settings,
                failed=refused.message,
                status_code=http_status(refused),
            )
    return redirect(f"/r/book/{token}/holds/{hold.id}")


async def _hold_page(
    request: Request,
    token: str,
    hold_id: int,
    db: AsyncSession,
    settings: Settings,
    *,
    answers: dict[str, str] | None = None,
    refusal: Refusal | None = None,
    status_code: int = 200,
) -> Response:
    held = await recipient_links.held_seat(db, settings, token, hold_id)
    recipient = await db.get(Recipient, held.journey.recipient_id)
    product = await current_product(db, held.slot.product_code)
    return render(
        request,
        "recipient/book_hold.html",
        status_code=status_code,
        here=f"/r/book/{token}/holds/{hold_id}",
        language=_language(request, recipient),
        time_zone=held.location.time_zone,
        notices=RECIPIENT_NOTICES,
        token=token,
        held=held,
        live=held.hold.status == HoldStatus.held and held.hold.expires_at > utcnow(),
        recipient=recipient,
        product_name=product.name if product else held.slot.product_code,
        questions=await questions_for(db, held.slot.product_code),
        answers=answers or {},
        refusal=refusal,
    )


@router.get("/book/{token}/holds/{hold_id}", dependencies=[Public])
async def hold_page(
    request: Request, token: str, hold_id: RecordId, db: SessionDep, settings: SettingsDep
) -> Response:
    return await _hold_page(request, token, hold_id, db, settings)


@router.post("/book/{token}/holds/{hold_id}/release", dependencies=[Public])
async def release_submit(token: str, hold_id: RecordId, form: CheckedForm, wiring: WiringDep) -> Response:
    await recipient_links.release_by_link(**wiring.io, token=token, hold_id=hold_id)
    return redirect(f"/r/book/{token}")


@router.post("/book/{token}", dependencies=[Public])
async def book_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    """Books the held seat with the screening answers; a refusal is shown beside the form."""
    slot_id = _slot_id(form)
    hold_id = _slot_id(form, "hold_id") if form.get("hold_id") else None
    slot = await wiring.db.get(Slot, slot_id)
    questions = await questions_for(wiring.db, slot.product_code) if slot else []
    answers = answers_from(form, questions)
    try:
        booked = await recipient_links.book_by_link(
            **wiring.io_sessions, token=token, slot_id=slot_id, hold_id=hold_id, screening=answers, key=None
        )
    except (Conflict, Unprocessable) as refused:
        if hold_id is None:
            raise
        async with reading(wiring.sessions) as fresh:
            return await _hold_page(
                request,
                token,
                hold_id,
                fresh,
                wiring.settings,
                answers=answers,
                refusal=refusal_of(refused, questions),
                status_code=http_status(refused),
            )
    appointment_token = sign_link(
        wiring.settings.secret_key, LINK_APPOINTMENT, {"a": booked.appointment_id, "j": booked.journey_id}
    )
    return redirect(f"/r/appointments/{appointment_token}?notice=appointment_booked")


@router.get("/record/{token}", dependencies=[Public])
async def record_page(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    recipient = await recipient_links.linked_recipient(db, settings, token)
    return render(
        request,
        "recipient/record.html",
        language=_language(request, recipient),
        notices=RECIPIENT_NOTICES,
        token=token,
        record=await load_record(db, recipient),
    )


@downloads.get("/record/{token}/record.pdf", dependencies=[Public])
async def record_download(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    recipient = await recipient_links.linked_recipient(db, settings, token)
    lang = _language(request, recipient)
    record = await load_record(db, recipient, settings)
    return pdf_response(record_pdf(record, lang), f"vaccination-record-{lang}.pdf")


@downloads.get("/record/{token}/registration-form.pdf", dependencies=[Public])
async def form_download(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    recipient = await recipient_links.linked_recipient(db, settings, token)
    lang = _language(request, recipient)
    content = registration_form_pdf(await load_record(db, recipient), lang)
    return pdf_response(content, f"registration-and-administration-{lang}.pdf")
