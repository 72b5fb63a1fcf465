"""Booking oneself from the public finder (no login), phone-first, in English or Spanish:
choose a time -> the seat is held -> your details and the screening questions -> the code we
emailed -> booked, with dose 2 offered. The rules live in services/self_scheduling.py.
"""

from __future__ import annotations

from itertools import groupby
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.access.deps import client_host
from api.deps import Public, ReadsOnly, SessionDep, SettingsDep, WiringDep
from api.eligibility.pages import answers_from, questions_for, refusal_of
from api.errors import Conflict, Gone, Unprocessable, http_status
from api.pages.csrf import CheckedForm
from api.pages.i18n import LANGUAGES, N_, request_language
from api.pages.rendering import PageRoute, field_errors, redirect, render
from domain.journey_messages import LINK_APPOINTMENT
from domain.recipients import EDITABLE, RecipientCreate
from domain.security import sign_link
from records.db import reading
from records.locations import Location
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.waiting_room import current_release
from services import self_scheduling as selfs
from services import self_waitlist

router = APIRouter(prefix="/find", route_class=PageRoute, include_in_schema=False)

CHOOSE_A_TIME = N_("Choose one of the times offered.")


def _language(request: Request, lang: str | None = None) -> str:
    return lang if lang in LANGUAGES else request_language(request)


def _limits(request: Request) -> selfs.SelfServiceLimits:
    limits: selfs.SelfServiceLimits = request.app.state.self_service_limits
    return limits


def _days(slots: list[Slot], zone: str) -> list[dict[str, Any]]:
    """The times grouped by the location's local day (the page shows each time without seconds)."""
    local = ZoneInfo(zone)
    return [
        {"day": day, "slots": list(group)}
        for day, group in groupby(slots, key=lambda s: s.start_at.astimezone(local).date())
    ]


async def _times_page(
    request: Request,
    db: SessionDep,
    location: Location,
    *,
    failed: str | None = None,
    status_code: int = 200,
    admission: str | None = None,
) -> Response:
    lang = _language(request, request.query_params.get("lang"))
    slots = await selfs.open_times(db, location)
    return render(
        request,
        "public/self_times.html",
        status_code=status_code,
        language=lang,
        time_zone=location.time_zone,
        location=location,
        days=_days(slots, location.time_zone),
        admission=admission or request.query_params.get("admission") or "",
        failed=failed,
    )


@router.get("/{code}/times", dependencies=[Public, ReadsOnly])
async def times_page(request: Request, code: str, db: SessionDep) -> Response:
    """Behind a waiting room, only with an admission (the line's page gives it when the turn comes)."""
    location = await selfs.self_service_location(db, code)
    if not request.query_params.get("admission") and await current_release(db, location.id):
        return redirect(f"/find/{location.code}/queue")
    return await _times_page(request, db, location)


@router.post("/{code}/times", dependencies=[Public])
async def hold_submit(request: Request, code: str, form: CheckedForm, wiring: WiringDep) -> Response:
    location = await selfs.self_service_location(wiring.db, code)
    admission = str(form.get("admission", "")) or None
    try:
        slot_id = int(str(form.get("slot_id", "")))
    except ValueError:
        return await _times_page(
            request, wiring.db, location, failed=CHOOSE_A_TIME, status_code=422, admission=admission
        )
    try:
        hold = await selfs.hold_time(
            admission=admission,
            **wiring.io,
            limits=_limits(request),
            location=location,
            slot_id=slot_id,
            client=client_host(request),
        )
    except Conflict as refused:
        await wiring.db.rollback()  # the rollback expires what it loaded: read the location afresh
        async with reading(wiring.sessions) as fresh:
            return await _times_page(
                request,
                fresh,
                await selfs.self_service_location(fresh, code),
                failed=refused.message,
                status_code=http_status(refused),
                admission=admission if refused.code != "admission_used" else None,
            )
    return redirect(f"/find/register/{selfs.hold_token(wiring.settings, hold)}")


async def _register_page(
    request: Request,
    db: SessionDep,
    held: selfs.HeldTime,
    token: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    answers: dict[str, str] | None = None,
    refusal: Any = None,
    status_code: int = 200,
) -> Response:
    values = form or {**dict.fromkeys(EDITABLE, ""), "preferred_language": request_language(request)}
    return render(
        request,
        "public/self_register.html",
        status_code=status_code,
        time_zone=held.location.time_zone,
        token=token,
        held=held,
        action=f"/find/register/{token}",
        form=values,
        errors=errors or {},
        questions=await questions_for(db, held.slot.product_code),
        answers=answers or {},
        refusal=refusal,
    )


@router.get("/register/{token}", dependencies=[Public])
async def register_page(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    return await _register_page(request, db, await selfs.held_time(db, settings, token), token)


def _model_input(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {name: values[name] for name in EDITABLE}
    data["state"] = data["state"].upper()
    for optional in ("race", "ethnicity"):
        data[optional] = data[optional] or None
    return data


@router.post("/register/{token}", dependencies=[Public])
async def register_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    """Same fields and checks as staff registration; the email is required (the code goes there)."""
    held = await selfs.held_time(wiring.db, wiring.settings, token)
    values = {name: str(form.get(name, "")).strip() for name in EDITABLE}
    questions = await questions_for(wiring.db, held.slot.product_code)
    answers = answers_from(form, questions)
    page = {"form": values, "answers": answers}
    try:
        body = RecipientCreate(**_model_input(values))
    except ValidationError as exc:
        return await _register_page(
            request, wiring.db, held, token, errors=field_errors(exc), status_code=422, **page
        )
    if not body.email:
        errors = {"email": N_("Enter your email: we send you a code.")}
        return await _register_page(request, wiring.db, held, token, errors=errors, status_code=422, **page)
    try:
        code_page = await selfs.register(
            **wiring.io,
            limits=_limits(request),
            token=token,
            body=body,
            screening=answers,
            client=client_host(request),
        )
    except (Conflict, Unprocessable) as refused:
        await wiring.db.rollback()  # nothing kept, nothing sent; what was loaded is read afresh
        async with reading(wiring.sessions) as fresh:
            return await _register_page(
                request,
                fresh,
                await selfs.held_time(fresh, wiring.settings, token),
                token,
                refusal=refusal_of(refused, questions),
                status_code=http_status(refused),
                **page,
            )
    return redirect(f"/find/verify/{code_page}")


async def _waitlist_page(
    request: Request,
    db: SessionDep,
    location: Location,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    answers: dict[str, str] | None = None,
    refusal: Any = None,
    status_code: int = 200,
) -> Response:
    products = await self_waitlist.waitlist_products(db, location)
    values = form or {
        **dict.fromkeys(EDITABLE, ""),
        "preferred_language": request_language(request),
        "product_code": products[0][0] if products else "",
    }
    return render(
        request,
        "public/self_register.html",
        status_code=status_code,
        time_zone=location.time_zone,
        held=None,
        location=location,
        products=products,
        action=f"/find/{location.code}/waitlist",
        form=values,
        errors=errors or {},
        questions=await questions_for(db, values["product_code"]) if values["product_code"] else [],
        answers=answers or {},
        refusal=refusal,
    )


@router.get("/{code}/waitlist", dependencies=[Public])
async def waitlist_page(request: Request, code: str, db: SessionDep) -> Response:
    """The seats are gone: the same details and emailed code put the person on the waitlist."""
    return await _waitlist_page(request, db, await selfs.self_service_location(db, code))


@router.post("/{code}/waitlist", dependencies=[Public])
async def waitlist_submit(request: Request, code: str, form: CheckedForm, wiring: WiringDep) -> Response:
    location = await selfs.self_service_location(wiring.db, code)
    values = {name: str(form.get(name, "")).strip() for name in (*EDITABLE, "product_code")}
    questions = await questions_for(wiring.db, values["product_code"]) if values["product_code"] else []
    answers = answers_from(form, questions)
    page = {"form": values, "answers": answers}
    try:
        body = RecipientCreate(**_model_input(values))
    except ValidationError as exc:
        return await _waitlist_page(
            request, wiring.db, location, errors=field_errors(exc), status_code=422, **page
        )
    try:
        code_page = await selfs.register_for_waitlist(
            **wiring.io,
            limits=_limits(request),
            location=location,
            product_code=values["product_code"],
            body=body,
            screening=answers,
            client=client_host(request),
        )
    except (Conflict, Unprocessable) as refused:
        await wiring.db.rollback()  # nothing kept, nothing sent
        errors = {e["field"]: e["message"] for e in refused.extra.get("errors", []) if "field" in e}
        async with reading(wiring.sessions) as fresh:
            return await _waitlist_page(
                request,
                fresh,
                await selfs.self_service_location(fresh, code),
                errors={k: v for k, v in errors.items() if k in ("email", "product_code")} or None,
                refusal=None if errors else refusal_of(refused, questions),
                status_code=http_status(refused),
                **page,
            )
    return redirect(f"/find/verify/{code_page}")


async def _verify_page(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    token: str,
    *,
    code: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    row = await selfs.pending_registration(db, settings, token)
    if row.status == selfs.BOOKED:
        return redirect(f"/find/booked/{token}")
    location = await db.get(Location, row.location_id)
    return render(
        request,
        "public/self_verify.html",
        status_code=status_code,
        language=request_language(request, row.language),
        token=token,
        email=row.email_key,
        location=location,
        code=code,
        error=error,
    )


@router.get("/verify/{token}", dependencies=[Public])
async def verify_page(
    request: Request,
    token: str,
    db: SessionDep,
    settings: SettingsDep,
    code: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """The emailed link opens this page with the code filled in: a person confirms (a mail
    scanner opening the link books nothing)."""
    return await _verify_page(request, db, settings, token, code=code)


@router.post("/verify/{token}", dependencies=[Public])
async def verify_submit(request: Request, token: str, form: CheckedForm, wiring: WiringDep) -> Response:
    code = str(form.get("code", "")).strip()[:12]
    try:
        await selfs.verify_and_book(**wiring.io_sessions, token=token, code=code)
    except (Unprocessable, Conflict, Gone) as refused:
        if refused.code == "link_used":
            return redirect(f"/find/booked/{token}")
        await wiring.db.rollback()
        async with reading(wiring.sessions) as fresh:
            return await _verify_page(
                request,
                fresh,
                wiring.settings,
                token,
                code=code,
                error=refused.message,
                status_code=http_status(refused),
            )
    return redirect(f"/find/booked/{token}")


@router.get("/booked/{token}", dependencies=[Public])
async def booked_page(request: Request, token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The confirmation: the appointment, the link that manages it, and dose 2's window."""
    row = await selfs.pending_registration(db, settings, token)
    if row.waitlist_entry_id is not None:
        location = await db.get(Location, row.location_id)
        assert location is not None
        return render(
            request,
            "public/self_waitlisted.html",
            language=request_language(request, row.language),
            location=location,
            first_name=str(row.fields.get("first_name", "")),
        )
    appointment = await db.get(Appointment, row.appointment_id) if row.appointment_id else None
    if appointment is None:
        return redirect(f"/find/verify/{token}")
    location = await db.get(Location, appointment.location_id)
    slot = await db.get(Slot, appointment.slot_id)
    recipient = await db.get(Recipient, appointment.recipient_id)
    assert location is not None and slot is not None and recipient is not None
    manage = sign_link(
        settings.secret_key, LINK_APPOINTMENT, {"a": appointment.id, "j": appointment.journey_id}
    )
    return render(
        request,
        "public/self_booked.html",
        language=request_language(request, row.language),
        time_zone=location.time_zone,
        appointment=appointment,
        location=location,
        first_name=recipient.first_name,
        manage_url=f"/r/appointments/{manage}",
        next_dose=await selfs.next_dose(db, settings, slot),
    )
