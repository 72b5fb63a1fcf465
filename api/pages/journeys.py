"""Dose-series pages of the provider portal: a recipient's doses and appointments (check in,
document, edit and remove a dose, book, cancel, reschedule), the day's appointments, the
location's slots and lots, and the record PDFs. Every action calls the JSON API's own
function with the same role-checked actor, so the rules and the workflow are the same."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import FormData
from starlette.responses import Response

from api import appointments, doses, holds, inventory, products, slots, waitlist
from api.deps import (
    Actor,
    Documenter,
    Manager,
    Reader,
    RecordId,
    Registrar,
    Scheduler,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.errors import ApiError, Conflict, Unprocessable
from api.journeys import SessionsDep
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.recipient_link_pages import pdf_response
from api.pages.rendering import PAGE_SIZE, PageRoute, field_errors, redirect, refusal_errors, render
from api.pages.screening import Asked, Refusal, answers_from, asked, questions_for, refusal_of
from api.recipients import load_recipient
from api.vaccination_record import load_record, record_pdf, registration_form_pdf
from domain.dose_rules import next_dose_window
from domain.settings import Settings
from records.db import reading, utcnow
from records.eligibility import screening_questions
from records.holds import HoldStatus, SeatHold
from records.journeys import Dose
from records.locations import Location
from records.products import InventoryLot, Product, current_product
from records.scheduling import Appointment, Slot

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

# What the dose form posts besides the screening answers (kept when the dose is refused).
DOSE_FIELDS = ("lot_id", "injection_site", "route", "administered_by", "given_at")


def _local_instant(value: str, time_zone: str) -> datetime:
    """A datetime-local form value in the location's time zone, as an aware instant."""
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(time_zone))


def _int(form: FormData, name: str) -> int:
    try:
        return int(str(form.get(name, "")))
    except ValueError:
        raise Unprocessable(
            N_("Choose one of the options."), errors=[{"field": name, "message": "required"}]
        ) from None


async def recipient_context(
    db: SessionDep, settings: SettingsDep, actor: Actor, recipient_id: int
) -> dict[str, Any]:
    """What the recipient page shows about the series at the active location."""
    recipient = await load_recipient(db, recipient_id)
    dose_rows = (
        await db.execute(
            select(Dose, Location, Product)
            .join(Location, Location.id == Dose.location_id)
            .join(Product, (Product.code == Dose.product_code) & (Product.version == Dose.product_version))
            .where(Dose.recipient_id == recipient_id)
            .order_by(Dose.given_at, Dose.id)
        )
    ).all()
    given = [d for d, _loc, _p in dose_rows if not d.removed]
    appointment_rows = (
        (
            await db.execute(
                select(Appointment)
                .where(Appointment.recipient_id == recipient_id, Appointment.location_id == actor.location.id)
                .order_by(Appointment.start_at.desc())
            )
        )
        .scalars()
        .all()
    )
    today = utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    lots = (
        (
            await db.execute(
                select(InventoryLot)
                .where(
                    InventoryLot.location_id == actor.location.id,
                    InventoryLot.expires_on >= today,
                    InventoryLot.on_hand > 0,
                )
                .order_by(InventoryLot.product_code, InventoryLot.expires_on)
            )
        )
        .scalars()
        .all()
    )
    product_names = {p.code: p.name for p in await products.list_products(actor=actor, db=db)}
    open_slots = await bookable_slots(db, settings, actor, given)
    series_product = given[-1].product_code if given else None
    return {
        "recipient": recipient,
        "doses": [{"dose": d, "location": loc, "product": p} for d, loc, p in dose_rows],
        "appointments": appointment_rows,
        "active_appointment": next(
            (a for a in appointment_rows if a.status in ("booked", "checked_in")), None
        ),
        "lots": lots,
        "product_names": product_names,
        "open_slots": open_slots,
        **await _document_screening(db, sorted({lot.product_code for lot in lots}), product_names),
        "waitlist_entries": await waitlist.list_waitlist(actor=actor, db=db, recipient_id=recipient_id)
        if actor.location.scheduling_enabled
        else [],
        "waitlist_form": _waitlist_defaults(actor, series_product),
        "waitlist_errors": {},
        # The dose form's idempotency key, new each time the form is shown: the same form posted
        # twice (a double click, a browser's retry) documents one dose.
        "document_key": uuid.uuid4().hex,
        "document_errors": {},
    }


async def _document_screening(
    db: AsyncSession, product_codes: list[str], product_names: dict[str, str]
) -> dict[str, Any]:
    """The questions the dose form asks: those for every product once, then each product's own
    (the ones for the chosen lot's product must be answered)."""
    common: list[Asked] = []
    own: list[tuple[str, list[Asked]]] = []
    seen: set[str] = set()
    for code in product_codes:
        rows = await screening_questions(db, code)
        for row in rows:
            if row.product_code is None and row.code not in seen:
                seen.add(row.code)
                common.append(asked(row))
        specific = [asked(row) for row in rows if row.product_code is not None]
        if specific:
            own.append((product_names.get(code, code), specific))
    return {"common_questions": common, "product_questions": own}


def _waitlist_defaults(actor: Actor, product_code: str | None) -> dict[str, str]:
    today = utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    return {
        "product_code": product_code or "",
        "earliest_date": today.isoformat(),
        "latest_date": (today + timedelta(days=14)).isoformat(),
    }


async def recipient_response(
    request: Request,
    db: AsyncSession,
    settings: Settings,
    actor: Actor,
    recipient_id: int,
    *,
    status_code: int = 200,
    **shown: Any,
) -> Response:
    """The recipient page; after a refused change, with what was posted and why beside its form."""
    context = await recipient_context(db, settings, actor, recipient_id)
    context.update(shown)
    # After a post, the language switch returns to the page itself, not to where the form went.
    context["here"] = f"/portal/recipients/{recipient_id}"
    return render(request, "portal/recipient.html", actor=actor, status_code=status_code, **context)


async def recipient_again(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    actor: Actor,
    recipient_id: int,
    error: ApiError,
    **shown: Any,
) -> Response:
    """The recipient page after a refusal, read afresh: the request's own transaction may have
    ended when the change went to the workflow."""
    async with reading(sessions) as fresh:
        return await recipient_response(
            request, fresh, settings, actor, recipient_id, status_code=error.status_code, **shown
        )


async def bookable_slots(
    db: SessionDep, settings: SettingsDep, actor: Actor, given: list[Dose]
) -> list[Slot]:
    """Open slots here for the next dose: any product for dose 1; for a later dose the same
    product, from the earliest date of its window to the recommended latest (no grace)."""
    if not actor.location.scheduling_enabled:
        return []
    query = select(Slot).where(
        Slot.location_id == actor.location.id,
        Slot.is_open.is_(True),
        Slot.booked + Slot.held < Slot.capacity,
        Slot.start_at > utcnow(),
    )
    if given:
        last = given[-1]
        product = (
            await db.execute(
                select(Product).where(
                    Product.code == last.product_code, Product.version == last.product_version
                )
            )
        ).scalar_one()
        if len(given) >= product.doses:
            return []
        window = next_dose_window(product.rule(), last.given_at, settings.day_seconds)
        query = query.where(
            Slot.product_code == product.code,
            Slot.start_at >= window.earliest,
            Slot.start_at <= window.recommended_latest,
        )
    return list((await db.execute(query.order_by(Slot.start_at).limit(50))).scalars())


@router.post("/recipients/{recipient_id}/hold")
async def hold_submit(
    request: Request,
    recipient_id: RecordId,
    actor: Scheduler,
    form: CheckedForm,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """The chosen time's seat is held (CVMS_SEAT_HOLD_SECONDS) while the booking is confirmed."""
    await load_recipient(db, recipient_id)
    slot_id = _int(form, "slot_id")
    slot = await slots.load_slot(slot_id=slot_id, actor=actor, db=db)
    try:
        hold = await holds.hold_a_seat(
            slot_id=slot_id, actor=actor, slot=slot, db=db, settings=settings, temporal=temporal
        )
    except (Conflict, Unprocessable) as refused:
        return await recipient_again(
            request, sessions, settings, actor, recipient_id, refused, book_failed=refused.message
        )
    return redirect(f"/portal/recipients/{recipient_id}/holds/{hold.id}")


async def _hold_page(
    request: Request,
    db: AsyncSession,
    actor: Actor,
    recipient_id: int,
    hold: SeatHold,
    *,
    answers: dict[str, str] | None = None,
    refusal: Refusal | None = None,
    status_code: int = 200,
) -> Response:
    recipient = await load_recipient(db, recipient_id)
    slot = await db.get(Slot, hold.slot_id)
    assert slot is not None
    product = await current_product(db, slot.product_code)
    return render(
        request,
        "portal/book_hold.html",
        actor=actor,
        status_code=status_code,
        here=f"/portal/recipients/{recipient_id}/holds/{hold.id}",
        recipient=recipient,
        hold=hold,
        held=hold.status == HoldStatus.held and hold.expires_at > utcnow(),
        slot=slot,
        product_name=product.name if product else slot.product_code,
        questions=await questions_for(db, slot.product_code),
        answers=answers or {},
        refusal=refusal,
    )


@router.get("/recipients/{recipient_id}/holds/{hold_id}")
async def hold_page(
    request: Request,
    recipient_id: RecordId,
    hold_id: RecordId,
    actor: Scheduler,
    hold: holds.HoldDep,
    db: SessionDep,
) -> Response:
    """The held seat, until when, and the screening questions to answer before booking."""
    if hold.status == HoldStatus.booked:
        return redirect(f"/portal/recipients/{recipient_id}")
    return await _hold_page(request, db, actor, recipient_id, hold)


@router.post("/recipients/{recipient_id}/holds/{hold_id}/release")
async def release_submit(
    recipient_id: RecordId,
    hold_id: RecordId,
    actor: Scheduler,
    hold: holds.HoldDep,
    form: CheckedForm,
    temporal: TemporalDep,
) -> Response:
    await holds.release_a_hold(hold_id=hold_id, actor=actor, hold=hold, temporal=temporal)
    return redirect(f"/portal/recipients/{recipient_id}?notice=seat_released")


@router.post("/recipients/{recipient_id}/book")
async def book_submit(
    request: Request,
    recipient_id: RecordId,
    actor: Scheduler,
    form: CheckedForm,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Books the held seat (or any free seat of the slot) with the screening answers; a refusal
    is shown beside the form, the seat still held."""
    await load_recipient(db, recipient_id)
    slot_id = _int(form, "slot_id")
    hold_id = _int(form, "hold_id") if form.get("hold_id") else None
    slot = await slots.load_slot(slot_id=slot_id, actor=actor, db=db)
    questions = await questions_for(db, slot.product_code)
    answers = answers_from(form, questions)
    body = appointments.BookIn(recipient_id=recipient_id, slot_id=slot_id, hold_id=hold_id, screening=answers)
    try:
        await appointments.book_appointment(
            body=body,
            actor=actor,
            db=db,
            settings=settings,
            temporal=temporal,
            # The same held seat submitted twice books once.
            idempotency_key=f"hold-{hold_id}" if hold_id else None,
        )
    except (Conflict, Unprocessable) as refused:
        if hold_id is None:
            return await recipient_again(
                request, sessions, settings, actor, recipient_id, refused, book_failed=refused.message
            )
        async with reading(sessions) as fresh:
            hold = await holds.load_hold(hold_id=hold_id, actor=actor, db=fresh)
            return await _hold_page(
                request,
                fresh,
                actor,
                recipient_id,
                hold,
                answers=answers,
                refusal=refusal_of(refused, questions),
                status_code=refused.status_code,
            )
    return redirect(f"/portal/recipients/{recipient_id}?notice=appointment_booked")


@router.post("/appointments/{appointment_id}/check-in")
async def check_in_submit(
    appointment_id: RecordId,
    actor: Registrar,
    appointment: appointments.AppointmentDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    recipient_id = appointment.recipient_id
    await appointments.check_in(
        appointment_id=appointment_id,
        actor=actor,
        appointment=appointment,
        db=db,
        settings=settings,
        temporal=temporal,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=checked_in")


@router.post("/appointments/{appointment_id}/cancel")
async def cancel_submit(
    appointment_id: RecordId,
    actor: Scheduler,
    appointment: appointments.AppointmentDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    recipient_id = appointment.recipient_id
    reason = str(form.get("reason", "")).strip() or "cancelled at the location"
    body = appointments.CancelIn(reason=reason[:500])
    await appointments.cancel_appointment(
        appointment_id=appointment_id,
        body=body,
        actor=actor,
        appointment=appointment,
        db=db,
        settings=settings,
        temporal=temporal,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=appointment_cancelled")


@router.post("/appointments/{appointment_id}/reschedule")
async def reschedule_submit(
    appointment_id: RecordId,
    actor: Scheduler,
    appointment: appointments.AppointmentDep,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    recipient_id = appointment.recipient_id
    body = appointments.RescheduleIn(slot_id=_int(form, "slot_id"))
    await appointments.reschedule_appointment(
        appointment_id=appointment_id,
        body=body,
        actor=actor,
        appointment=appointment,
        db=db,
        settings=settings,
        temporal=temporal,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=appointment_rescheduled")


async def _chosen_lot(db: AsyncSession, actor: Actor, value: str) -> InventoryLot | None:
    """The lot a form chose, when it is one of this location's."""
    if not value.isdigit() or len(value) > 9:
        return None
    return (
        await db.execute(
            select(InventoryLot).where(
                InventoryLot.id == int(value), InventoryLot.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()


@router.post("/recipients/{recipient_id}/doses")
async def document_submit(
    request: Request,
    recipient_id: RecordId,
    actor: Documenter,
    form: CheckedForm,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Documents a dose from the chosen lot. The form's key makes a repeated post document it
    once; a bad value or a refusal is said beside the form, which keeps what was posted."""
    await load_recipient(db, recipient_id)
    posted = {name: str(form.get(name, "")).strip() for name in DOSE_FIELDS}
    lot = await _chosen_lot(db, actor, posted["lot_id"])
    questions = await questions_for(db, lot.product_code) if lot else []
    answers = answers_from(form, questions)
    errors: dict[str, str] = {} if lot else {"lot_id": N_("Choose one of the lots offered.")}
    given_at = None
    if posted["given_at"]:
        try:
            given_at = _local_instant(posted["given_at"], actor.location.time_zone)
        except ValueError:
            errors["given_at"] = N_("Enter a date and time.")
    try:  # without a lot, the other fields are still checked (the lot's own error is said above)
        body = doses.DoseIn(
            product_code=lot.product_code if lot else "-",
            lot_number=lot.lot_number if lot else "-",
            injection_site=posted["injection_site"],
            route=posted["route"] or "intramuscular",
            administered_by=posted["administered_by"] or None,
            given_at=given_at,
            idempotency_key=str(form.get("idempotency_key", "")).strip() or None,
            screening=answers,
        )
    except ValidationError as exc:
        errors = {**field_errors(exc), **errors}
    if errors:
        return await recipient_again(
            request,
            sessions,
            settings,
            actor,
            recipient_id,
            Unprocessable(N_("Please correct the fields marked below.")),
            document_form=posted,
            document_answers=answers,
            document_errors=errors,
        )
    try:
        outcome = await doses.document_dose(
            recipient_id=recipient_id,
            body=body,
            actor=actor,
            db=db,
            sessions=sessions,
            settings=settings,
            temporal=temporal,
        )
    except (Conflict, Unprocessable) as refused:
        return await recipient_again(
            request,
            sessions,
            settings,
            actor,
            recipient_id,
            refused,
            document_form=posted,
            document_answers=answers,
            document_refusal=refusal_of(refused, questions),
        )
    notice = "dose_documented_with_warning" if outcome.warning else "dose_documented"
    return redirect(f"/portal/recipients/{recipient_id}?notice={notice}")


async def _dose_edit_page(
    request: Request,
    actor: Actor,
    dose: Dose,
    db: AsyncSession,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    lots = (
        (
            await db.execute(
                select(InventoryLot).where(
                    InventoryLot.location_id == actor.location.id,
                    InventoryLot.product_code == dose.product_code,
                    InventoryLot.expires_on >= today,
                )
            )
        )
        .scalars()
        .all()
    )
    given_local = dose.given_at.astimezone(ZoneInfo(actor.location.time_zone)).strftime("%Y-%m-%dT%H:%M:%S")
    current = {
        "lot_number": dose.lot_number,
        "injection_site": dose.injection_site,
        "route": dose.route,
        "administered_by": dose.administered_by,
        "given_at": given_local,
        "reason": "",
    }
    return render(
        request,
        "portal/dose_edit.html",
        actor=actor,
        status_code=status_code,
        here=f"/portal/doses/{dose.id}/edit",
        dose=dose,
        lots=lots,
        form=form or current,
        errors=errors or {},
    )


@router.get("/doses/{dose_id}/edit")
async def edit_dose_page(
    request: Request, dose_id: RecordId, actor: Documenter, dose: doses.DoseDep, db: SessionDep
) -> Response:
    return await _dose_edit_page(request, actor, dose, db)


DOSE_EDIT_FIELDS = ("lot_number", "injection_site", "route", "administered_by", "given_at", "reason")
# The page's own words for refusals whose API message carries the lot number and dates.
DOSE_EDIT_WORDS = {
    "lot_expired": N_("This lot had expired by the day the dose was given."),
    "lot_product_mismatch": N_("This lot is of another product."),
    "dose_removed": N_("This dose was removed in error; it cannot be edited."),
}


@router.post("/doses/{dose_id}/edit")
async def edit_dose_submit(
    request: Request,
    dose_id: RecordId,
    actor: Documenter,
    dose: doses.DoseDep,
    form: CheckedForm,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Corrects a dose; a bad value is said beside its field and the dose stays as it was."""
    recipient_id = dose.recipient_id
    posted = {name: str(form.get(name, "")).strip() for name in DOSE_EDIT_FIELDS}
    errors: dict[str, str] = {}
    new_given = None
    if posted["given_at"]:
        try:
            new_given = _local_instant(posted["given_at"], actor.location.time_zone)
        except ValueError:
            errors["given_at"] = N_("Enter a date and time.")
    changed: dict[str, Any] = {
        "lot_number": posted["lot_number"] or None,
        "injection_site": posted["injection_site"] or None,
        "route": posted["route"] or None,
        "administered_by": posted["administered_by"] or None,
        "given_at": new_given,
    }
    current = {
        "lot_number": dose.lot_number,
        "injection_site": dose.injection_site,
        "route": dose.route,
        "administered_by": dose.administered_by,
        "given_at": dose.given_at.replace(microsecond=0),
    }
    updates = {k: v for k, v in changed.items() if v is not None and v != current[k]}
    try:
        body = doses.DoseEdit(**updates, reason=posted["reason"])
    except ValidationError as exc:
        found = field_errors(exc, across=("form", N_("Change at least one field.")))
        if errors:  # a time that is not one: nothing else to say about what changed
            found.pop("form", None)
        errors = {**found, **errors}
    if errors:
        return await _dose_edit_page(request, actor, dose, db, form=posted, errors=errors, status_code=422)
    try:
        await doses.edit_dose(
            dose_id=dose_id,
            body=body,
            actor=actor,
            dose=dose,
            db=db,
            sessions=sessions,
            settings=settings,
            temporal=temporal,
        )
    except (Conflict, Unprocessable) as refused:
        # Read afresh: the request's own transaction may have ended when the change went to the workflow.
        async with reading(sessions) as fresh:
            unchanged = await doses.load_dose(dose_id=dose_id, actor=actor, db=fresh)
            return await _dose_edit_page(
                request,
                actor,
                unchanged,
                fresh,
                form=posted,
                errors=refusal_errors(refused, words=DOSE_EDIT_WORDS),
                status_code=refused.status_code,
            )
    return redirect(f"/portal/recipients/{recipient_id}?notice=dose_edited")


@router.post("/doses/{dose_id}/remove")
async def remove_dose_submit(
    dose_id: RecordId,
    actor: Documenter,
    dose: doses.DoseDep,
    form: CheckedForm,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    recipient_id = dose.recipient_id
    reason = str(form.get("reason", "")).strip()
    if not reason:
        raise Unprocessable(N_("Give the reason the dose is removed."))
    await doses.remove_dose(
        dose_id=dose_id,
        body=doses.RemoveIn(reason=reason[:500]),
        actor=actor,
        dose=dose,
        db=db,
        sessions=sessions,
        settings=settings,
        temporal=temporal,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=dose_removed")


@router.get("/recipients/{recipient_id}/record.pdf")
async def record_download(
    request: Request, recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> Response:
    recipient = await load_recipient(db, recipient_id)
    lang = str(request.query_params.get("lang", recipient.preferred_language))
    lang = lang if lang in ("en", "es") else "en"
    record = await load_record(db, recipient, settings)
    return pdf_response(record_pdf(record, lang), f"vaccination-record-{recipient_id}-{lang}.pdf")


@router.get("/recipients/{recipient_id}/registration-form.pdf")
async def form_download(request: Request, recipient_id: RecordId, actor: Reader, db: SessionDep) -> Response:
    recipient = await load_recipient(db, recipient_id)
    lang = str(request.query_params.get("lang", recipient.preferred_language))
    lang = lang if lang in ("en", "es") else "en"
    content = registration_form_pdf(await load_record(db, recipient), lang)
    return pdf_response(content, f"registration-and-administration-{recipient_id}-{lang}.pdf")


@router.get("/appointments")
async def appointments_page(
    request: Request,
    actor: Reader,
    db: SessionDep,
    day: date | None = None,
    status: appointments.Status | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    day = day or utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    rows = await appointments.search_appointments(actor=actor, db=db, day=day, status=status, limit=500)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(
        request,
        "portal/appointments.html",
        actor=actor,
        demand=await inventory.demand_against_stock(actor=actor, db=db, days=7),
        day=day,
        status=status or "",
        rows=shown,
        total=len(rows),
        page=page,
        page_size=PAGE_SIZE,
        pager_base=f"/portal/appointments?day={day.isoformat()}&status={status or ''}",
    )


async def _slots_page(
    request: Request,
    actor: Actor,
    db: AsyncSession,
    *,
    slot: int | None = None,
    page: int = 1,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    published = await db.get(Slot, slot) if slot else None
    if published is not None and published.location_id != actor.location.id:
        published = None
    upcoming = (Slot.location_id == actor.location.id, Slot.end_at > utcnow())
    total = (await db.execute(select(func.count()).select_from(Slot).where(*upcoming))).scalar_one()
    shown = (
        await db.execute(
            select(Slot)
            .where(*upcoming)
            .order_by(Slot.start_at, Slot.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    ).scalars()
    return render(
        request,
        "portal/slots.html",
        actor=actor,
        status_code=status_code,
        here="/portal/slots",
        slots=list(shown),
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        pager_base="/portal/slots",
        stock_warnings=await slots.stock_warnings(db, actor.location, published) if published else [],
        product_options=[(p.code, p.name) for p in await products.list_products(actor=actor, db=db)],
        form=form or SLOT_FORM_DEFAULTS,
        errors=errors or {},
    )


@router.get("/slots")
async def slots_page(
    request: Request,
    actor: Reader,
    db: SessionDep,
    slot: int | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The upcoming slots, soonest first, a page at a time; after publishing (?slot=id), that
    slot's stock warnings."""
    return await _slots_page(request, actor, db, slot=slot, page=page)


# The slot form: a day and two times at the location, rather than the API's two instants.
SLOT_FORM_DEFAULTS = {"day": "", "start": "09:00", "end": "10:00", "capacity": "10", "product_code": ""}
SLOT_FORM_FIELDS = {"start_at": "start", "end_at": "end"}
SLOT_WORDS = {
    "capacity": N_("Enter a whole number of seats, at least 1."),
    "end": N_("The end must be after the start."),
}


def _slot_in(posted: dict[str, str], time_zone: str) -> tuple[slots.SlotIn | None, dict[str, str]]:
    """The slot form as the API's SlotIn, or every field's error at once."""
    errors: dict[str, str] = {}
    parts: dict[str, Any] = {}
    for name, parse, words in (
        ("day", date.fromisoformat, N_("Enter a date.")),
        ("start", time.fromisoformat, N_("Enter a time.")),
        ("end", time.fromisoformat, N_("Enter a time.")),
    ):
        try:
            parts[name] = parse(posted[name])
        except ValueError:
            errors[name] = words
    zone = ZoneInfo(time_zone)
    if errors:  # two instants in order, so that the other fields are still checked
        start_at, end_at = utcnow(), utcnow() + timedelta(hours=1)
    else:
        start_at = datetime.combine(parts["day"], parts["start"], tzinfo=zone)
        end_at = datetime.combine(parts["day"], parts["end"], tzinfo=zone)
    try:
        body = slots.SlotIn(
            start_at=start_at, end_at=end_at, capacity=posted["capacity"], product_code=posted["product_code"]
        )
    except ValidationError as exc:
        for field, words in field_errors(exc, across=("end_at", SLOT_WORDS["end"])).items():
            name = SLOT_FORM_FIELDS.get(field, field)
            errors.setdefault(name, SLOT_WORDS.get(name, words))
        return None, errors
    return (None, errors) if errors else (body, {})


@router.post("/slots")
async def publish_slot_submit(
    request: Request,
    actor: Manager,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Publishes a slot; a bad value is said beside its field and nothing is published."""
    posted = {name: str(form.get(name, "")).strip() for name in SLOT_FORM_DEFAULTS}
    body, errors = _slot_in(posted, actor.location.time_zone)
    status_code = 422
    if body is not None:
        try:
            published = await slots.publish_slot(
                body=body, actor=actor, db=db, settings=settings, temporal=temporal
            )
        except (Conflict, Unprocessable) as refused:
            errors, status_code = refusal_errors(refused, fields=SLOT_FORM_FIELDS), refused.status_code
    if errors:
        return await _slots_page(request, actor, db, form=posted, errors=errors, status_code=status_code)
    if published.warnings:
        return redirect(f"/portal/slots?notice=slot_published_low_stock&slot={published.id}")
    return redirect("/portal/slots?notice=slot_published")


@router.post("/slots/{slot_id}/close")
async def close_slot_submit(
    slot_id: RecordId, actor: Manager, slot: slots.SlotDep, form: CheckedForm, db: SessionDep
) -> Response:
    await slots.close_slot(slot_id=slot_id, actor=actor, slot=slot, db=db)
    return redirect("/portal/slots?notice=slot_closed")


async def _lots_page(
    request: Request,
    actor: Actor,
    db: AsyncSession,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "portal/lots.html",
        actor=actor,
        status_code=status_code,
        here="/portal/lots",
        lots=await products.list_lots(actor=actor, db=db),
        product_options=[(p.code, p.name) for p in await products.list_products(actor=actor, db=db)],
        today=utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date(),
        form=form or dict.fromkeys(LOT_FORM_FIELDS, ""),
        errors=errors or {},
    )


@router.get("/lots")
async def lots_page(request: Request, actor: Reader, db: SessionDep) -> Response:
    return await _lots_page(request, actor, db)


LOT_FORM_FIELDS = ("product_code", "lot_number", "expires_on")
# The page's own words for refusals whose API message carries the lot number.
LOT_WORDS = {"duplicate_lot": N_("This lot is already recorded at this location.")}


@router.post("/lots")
async def add_lot_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    """Adds a lot; a bad value is said beside its field and nothing is added."""
    posted = {name: str(form.get(name, "")).strip() for name in LOT_FORM_FIELDS}
    try:
        body = products.LotIn(**posted)
    except ValidationError as exc:
        return await _lots_page(request, actor, db, form=posted, errors=field_errors(exc), status_code=422)
    try:
        await products.add_lot(body=body, actor=actor, db=db)
    except (Conflict, Unprocessable) as refused:
        errors = refusal_errors(refused, words=LOT_WORDS)
        return await _lots_page(
            request, actor, db, form=posted, errors=errors, status_code=refused.status_code
        )
    return redirect("/portal/lots?notice=lot_added")
