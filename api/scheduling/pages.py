"""Portal pages for booking: seat holds, booking, check-in, cancel, reschedule, appointments, slots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from api.deps import (
    Actor,
    Manager,
    PageNumber,
    Reader,
    RecordId,
    Registrar,
    Scheduler,
    SessionDep,
    TemporalDep,
    WiringDep,
)
from api.doses.recipient_pages import form_int, recipient_again
from api.eligibility.pages import Refusal, answers_from, questions_for, refusal_of
from api.errors import Conflict, Unprocessable, http_status
from api.inventory.schemas import demand_out
from api.pages.confirm import Confirm, ask_once
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import (
    PAGE_SIZE,
    PageRoute,
    field_errors,
    redirect,
    refusal_errors,
    render,
    safe_next,
)
from api.scheduling.deps import AppointmentDep, HoldDep, SlotDep
from api.scheduling.schemas import SlotIn, Status, from_fact, warnings_of
from domain.scheduling import HoldStatus
from records.db import reading, utcnow
from records.holds import SeatHold
from records.products import current_product
from records.scheduling import Slot
from services import catalog, front_desk, inventory, scheduling, seat_holds, slots
from services.recipients import load_recipient

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)


@router.post("/recipients/{recipient_id}/hold")
async def hold_submit(
    request: Request, recipient_id: RecordId, actor: Scheduler, form: CheckedForm, wiring: WiringDep
) -> Response:
    """The chosen time's seat is held (CVMS_SEAT_HOLD_SECONDS) while the booking is confirmed."""
    await load_recipient(wiring.db, recipient_id)
    slot_id = form_int(form, "slot_id")
    slot = await scheduling.slot_at(wiring.db, actor.location.id, slot_id)
    try:
        hold = await seat_holds.hold_a_seat(
            **wiring.io, location=actor.location, slot=slot, actor=actor.actor
        )
    except (Conflict, Unprocessable) as refused:
        return await recipient_again(
            request, wiring, actor, recipient_id, refused, book_failed=refused.message
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
    hold: HoldDep,
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
    hold: HoldDep,
    form: CheckedForm,
    temporal: TemporalDep,
) -> Response:
    await seat_holds.give_back(temporal, hold)
    return redirect(f"/portal/recipients/{recipient_id}?notice=seat_released")


@router.post("/recipients/{recipient_id}/book")
async def book_submit(
    request: Request, recipient_id: RecordId, actor: Scheduler, form: CheckedForm, wiring: WiringDep
) -> Response:
    """Books the held seat (or any free seat of the slot) with the screening answers; a refusal
    is shown beside the form, the seat still held."""
    await load_recipient(wiring.db, recipient_id)
    slot_id = form_int(form, "slot_id")
    hold_id = form_int(form, "hold_id") if form.get("hold_id") else None
    slot = await scheduling.slot_at(wiring.db, actor.location.id, slot_id)
    questions = await questions_for(wiring.db, slot.product_code)
    answers = answers_from(form, questions)
    try:
        await scheduling.book_appointment(
            **wiring.io,
            location=actor.location,
            recipient_id=recipient_id,
            slot_id=slot_id,
            actor=actor.actor,
            # The same held seat submitted twice books once.
            key=f"hold-{hold_id}" if hold_id else None,
            hold_id=hold_id,
            screening=answers,
        )
    except (Conflict, Unprocessable) as refused:
        if hold_id is None:
            return await recipient_again(
                request, wiring, actor, recipient_id, refused, book_failed=refused.message
            )
        async with reading(wiring.sessions) as fresh:
            hold = await seat_holds.hold_at(fresh, actor.location.id, hold_id)
            return await _hold_page(
                request,
                fresh,
                actor,
                recipient_id,
                hold,
                answers=answers,
                refusal=refusal_of(refused, questions),
                status_code=http_status(refused),
            )
    return redirect(f"/portal/recipients/{recipient_id}?notice=appointment_booked")


@router.post("/appointments/{appointment_id}/check-in")
async def check_in_submit(
    appointment_id: RecordId,
    actor: Registrar,
    appointment: AppointmentDep,
    form: CheckedForm,
    wiring: WiringDep,
) -> Response:
    recipient_id = appointment.recipient_id
    await scheduling.check_in(**wiring.io, appointment=appointment, actor=actor.actor)
    # From the front desk's home, back to today's list; otherwise the recipient's page.
    back = safe_next(str(form.get("next", "")), f"/portal/recipients/{recipient_id}")
    return redirect(f"{back}{'&' if '?' in back else '?'}notice=checked_in")


@router.post("/appointments/{appointment_id}/cancel")
async def cancel_submit(
    request: Request,
    appointment_id: RecordId,
    actor: Scheduler,
    appointment: AppointmentDep,
    form: CheckedForm,
    wiring: WiringDep,
) -> Response:
    recipient_id = appointment.recipient_id
    recipient = await load_recipient(wiring.db, recipient_id)
    reason = ask_once(
        request,
        actor,
        form,
        Confirm(
            action=f"/portal/appointments/{appointment_id}/cancel",
            heading=N_("Cancel this appointment?"),
            button=N_("Cancel the appointment"),
            back=f"/portal/recipients/{recipient_id}",
            subject=recipient.full_name,
            when=appointment.start_at,
            lead=N_("The recipient is emailed that it is cancelled, and the seat opens for others."),
            reason=N_("Reason for cancelling"),
        ),
    )
    if isinstance(reason, Response):
        return reason
    await scheduling.cancel(**wiring.io, appointment=appointment, reason=reason, actor=actor.actor, key=None)
    return redirect(f"/portal/recipients/{recipient_id}?notice=appointment_cancelled")


@router.post("/appointments/{appointment_id}/reschedule")
async def reschedule_submit(
    appointment_id: RecordId,
    actor: Scheduler,
    appointment: AppointmentDep,
    form: CheckedForm,
    wiring: WiringDep,
) -> Response:
    recipient_id = appointment.recipient_id
    await scheduling.reschedule(
        **wiring.io,
        location=actor.location,
        appointment=appointment,
        slot_id=form_int(form, "slot_id"),
        actor=actor.actor,
        key=None,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=appointment_rescheduled")


@router.get("/appointments")
async def appointments_page(
    request: Request,
    actor: Reader,
    db: SessionDep,
    day: date | None = None,
    status: Status | None = None,
    page: PageNumber = 1,
) -> Response:
    day = day or utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    found = await scheduling.search_appointments(db, actor.location, day=day, status=status, limit=500)
    rows = [from_fact(fact, name) for fact, name in found]
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(
        request,
        "portal/appointments.html",
        actor=actor,
        product_names=await catalog.product_names(db),
        demand=demand_out(await inventory.demand_against_stock(db, actor.location, 7)),
        day=day,
        status=status or "",
        rows=shown,
        total=len(rows),
        page=page,
        page_size=PAGE_SIZE,
        pager_base=f"/portal/appointments?day={day.isoformat()}&status={status or ''}",
    )


@dataclass(frozen=True)
class SlotView:
    """What the slots calendar shows: a day, or a week from a day (today by default: what is
    coming), of one product or all."""

    view: str = "week"
    day: date | None = None
    product: str = ""

    def days(self, today: date) -> tuple[date, int]:
        return self.day or today, 1 if self.view == "day" else 7

    def address(self, day: date, view: str | None = None) -> str:
        query = {"view": view or self.view, "day": day.isoformat(), "product": self.product}
        return "/portal/slots?" + urlencode({k: v for k, v in query.items() if v})


async def _slots_page(
    request: Request,
    actor: Actor,
    db: AsyncSession,
    *,
    slot: int | None = None,
    shown: SlotView | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    shown = shown or SlotView()
    published = await db.get(Slot, slot) if slot else None
    if published is not None and published.location_id != actor.location.id:
        published = None
    today = utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    first, count = shown.days(today)
    days = await front_desk.slot_days(db, actor.location, first, count, shown.product or None)
    return render(
        request,
        "portal/slots.html",
        actor=actor,
        status_code=status_code,
        here=shown.address(first),
        shown=shown,
        days=days,
        first=first,
        last=first + timedelta(days=count - 1),
        previous=shown.address(first - timedelta(days=count)),
        following=shown.address(first + timedelta(days=count)),
        today_address=shown.address(today),
        day_address=shown.address(first, "day"),
        week_address=shown.address(first, "week"),
        product_names=await catalog.product_names(db),
        stock_warnings=warnings_of(
            await slots.stock_shortfall(db, actor.location, published), published.product_code
        )
        if published
        else [],
        product_options=[(p.code, p.name) for p in await catalog.newest_products(db)],
        form=form or SLOT_FORM_DEFAULTS,
        errors=errors or {},
    )


@router.get("/slots")
async def slots_page(
    request: Request,
    actor: Reader,
    db: SessionDep,
    slot: int | None = None,
    view: Literal["day", "week"] = "week",
    day: date | None = None,
    product: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The location's slots a day or a week at a time, with the seats used and free; after
    publishing (?slot=id), that slot's stock warnings."""
    return await _slots_page(request, actor, db, slot=slot, shown=SlotView(view, day, product))


# The slot form: a day and two times at the location, rather than the API's two instants.
SLOT_FORM_DEFAULTS = {"day": "", "start": "09:00", "end": "10:00", "capacity": "10", "product_code": ""}


SLOT_FORM_FIELDS = {"start_at": "start", "end_at": "end"}


SLOT_WORDS = {
    "capacity": N_("Enter a whole number of seats, at least 1."),
    "end": N_("The end must be after the start."),
}


def _slot_in(posted: dict[str, str], time_zone: str) -> tuple[SlotIn | None, dict[str, str]]:
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
        body = SlotIn(
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
    request: Request, actor: Manager, form: CheckedForm, wiring: WiringDep
) -> Response:
    """Publishes a slot; a bad value is said beside its field and nothing is published."""
    posted = {name: str(form.get(name, "")).strip() for name in SLOT_FORM_DEFAULTS}
    body, errors = _slot_in(posted, actor.location.time_zone)
    status_code = 422
    if body is not None:
        try:
            published = await slots.publish_slot(
                **wiring.io,
                location=actor.location,
                user_id=actor.user.id,
                actor=actor.actor,
                **body.model_dump(),
            )
        except (Conflict, Unprocessable) as refused:
            errors, status_code = refusal_errors(refused, fields=SLOT_FORM_FIELDS), http_status(refused)
    if errors:
        return await _slots_page(
            request, actor, wiring.db, form=posted, errors=errors, status_code=status_code
        )
    # Back to the calendar at the new slot's day.
    on = f"day={body.start_at.astimezone(ZoneInfo(actor.location.time_zone)).date().isoformat()}"
    if await slots.stock_shortfall(wiring.db, actor.location, published):
        return redirect(f"/portal/slots?notice=slot_published_low_stock&slot={published.id}&{on}")
    return redirect(f"/portal/slots?notice=slot_published&{on}")


@router.post("/slots/{slot_id}/close")
async def close_slot_submit(
    request: Request, slot_id: RecordId, actor: Manager, slot: SlotDep, form: CheckedForm, db: SessionDep
) -> Response:
    product = await current_product(db, slot.product_code)
    asked = ask_once(
        request,
        actor,
        form,
        Confirm(
            action=f"/portal/slots/{slot_id}/close",
            heading=N_("Close this time slot?"),
            button=N_("Close the slot"),
            back="/portal/slots",
            subject=product.name if product else slot.product_code,
            when=slot.start_at,
            lead=N_("No one can book it any more; appointments already booked stay."),
        ),
    )
    if isinstance(asked, Response):
        return asked
    await slots.close_slot(db, slot=slot, actor=actor.actor)
    return redirect("/portal/slots?notice=slot_closed")
