"""Recipient pages: find, register (with the duplicate warning), view and edit."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import Actor, Reader, RecordId, Registrar, SessionDep, SettingsDep
from api.doses.recipient_pages import recipient_response
from api.pages.csrf import CheckedForm
from api.pages.rendering import PAGE_SIZE, PageRoute, field_errors, redirect, render
from api.recipients.schemas import EDITABLE, RecipientCreate, RecipientUpdate
from domain.refusals import Conflict, Invalid
from records.db import utcnow
from records.recipients import Recipient
from services import front_desk
from services.recipients import edit, load_recipient, register, search

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

SEARCH_FIELDS = ("name", "date_of_birth", "phone", "email")


async def _home(
    request: Request,
    actor: Actor,
    db: AsyncSession,
    *,
    query: dict[str, str],
    errors: dict[str, str] | None = None,
    results: list[Recipient] | None = None,
    status_code: int = 200,
    **shown: Any,
) -> Response:
    """The front desk's home: the search box, what it found, and today's appointments here."""
    today = utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    appointments = await front_desk.appointments_on(db, actor.location, today)
    counts = Counter(row.appointment.status for row in appointments)
    return render(
        request,
        "portal/home.html",
        actor=actor,
        status_code=status_code,
        today=today,
        appointments=appointments,
        counts={status: counts.get(status, 0) for status in ("booked", "checked_in", "completed")},
        query={"q": "", **query},
        errors=errors or {},
        results=results,
        **shown,
    )


@router.get("")
async def home(request: Request, actor: Reader, db: SessionDep) -> Response:
    return await _home(request, actor, db, query={})


def _search_terms(query: dict[str, str]) -> dict[str, Any]:
    """The search's parts: the one box (q) read as a name, phone or date of birth, or the
    separate fields of an older link."""
    if query["q"]:
        lookup = front_desk.read_lookup(query["q"])
        return {
            "name": lookup.name,
            "date_of_birth": lookup.date_of_birth,
            "phone": lookup.phone,
            "email": None,
        }
    born = None
    if query["date_of_birth"]:
        try:
            born = date.fromisoformat(query["date_of_birth"])
        except ValueError:
            raise Invalid("Enter a date.", errors=[{"field": "date_of_birth"}]) from None
    return {
        "name": query["name"] or None,
        "date_of_birth": born,
        "phone": query["phone"] or None,
        "email": query["email"] or None,
    }


@router.get("/recipients")
async def search_page(
    request: Request, actor: Reader, db: SessionDep, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    query = {name: request.query_params.get(name, "").strip() for name in ("q", *SEARCH_FIELDS)}
    if not any(query.values()):
        return await _home(request, actor, db, query=query)
    try:
        results, total = await search(db, **_search_terms(query), page=page, page_size=PAGE_SIZE)
    except Invalid as exc:
        # The one box takes every complaint; the older separate fields keep theirs beside them.
        field = "q" if query["q"] else next((e["field"] for e in exc.extra.get("errors", [])), "form")
        message = exc.message[:1].upper() + exc.message[1:] + ("" if exc.message.endswith(".") else ".")
        return await _home(request, actor, db, query=query, errors={field: message}, status_code=422)
    return await _home(
        request,
        actor,
        db,
        query=query,
        results=results,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        pager_base="/portal/recipients?" + urlencode({k: v for k, v in query.items() if v}),
    )


def _submitted(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in [*EDITABLE, "reason"]}


def _model_input(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {name: values[name] for name in EDITABLE}
    data["state"] = data["state"].upper()
    for optional in ("race", "ethnicity"):
        data[optional] = data[optional] or None
    return data


def _form_page(request: Request, actor: Any, form: dict[str, str], **context: Any) -> Response:
    recipient = context.get("recipient")
    return render(
        request,
        "portal/recipient_form.html",
        actor=actor,
        form=form,
        errors=context.pop("errors", {}),
        action=f"/portal/recipients/{recipient.id}/edit" if recipient else "/portal/recipients/new",
        cancel_url=f"/portal/recipients/{recipient.id}" if recipient else "/portal",
        **context,
    )


@router.get("/recipients/new")
async def register_page(request: Request, actor: Registrar) -> Response:
    form = dict.fromkeys([*EDITABLE, "reason"], "")
    form["preferred_language"] = "en"
    return _form_page(request, actor, form, recipient=None)


@router.post("/recipients/new")
async def register_submit(request: Request, actor: Registrar, form: CheckedForm, db: SessionDep) -> Response:
    values = _submitted(form)
    try:
        body = RecipientCreate(
            **_model_input(values), confirm_new_person=form.get("confirm_new_person") == "true"
        )
    except ValidationError as exc:
        return _form_page(request, actor, values, recipient=None, errors=field_errors(exc), status_code=422)
    try:
        recipient = await register(db, actor, body)
    except Conflict as exc:
        if exc.code != "possible_duplicate":
            raise
        candidates = await _candidates(db, exc.extra.get("candidates", []))
        return _form_page(request, actor, values, recipient=None, duplicates=candidates, status_code=409)
    return redirect(f"/portal/recipients/{recipient.id}?notice=registered")


async def _candidates(db: SessionDep, found: list[dict[str, Any]]) -> list[Recipient]:
    return [await load_recipient(db, int(c["id"])) for c in found]


@router.get("/recipients/{recipient_id}")
async def recipient_page(
    request: Request, recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> Response:
    return await recipient_response(request, db, settings, actor, recipient_id)


@router.get("/recipients/{recipient_id}/edit")
async def edit_page(request: Request, recipient_id: RecordId, actor: Registrar, db: SessionDep) -> Response:
    recipient = await load_recipient(db, recipient_id)
    form = {
        name: "" if getattr(recipient, name) is None else str(getattr(recipient, name)) for name in EDITABLE
    }
    form["reason"] = ""
    return _form_page(request, actor, form, recipient=recipient)


@router.post("/recipients/{recipient_id}/edit")
async def edit_submit(
    request: Request, recipient_id: RecordId, actor: Registrar, form: CheckedForm, db: SessionDep
) -> Response:
    recipient = await load_recipient(db, recipient_id)
    values = _submitted(form)
    try:
        body = RecipientUpdate(**_model_input(values), reason=values["reason"] or None)
        await edit(db, actor, recipient, body)
    except ValidationError as exc:
        return _form_page(
            request, actor, values, recipient=recipient, errors=field_errors(exc), status_code=422
        )
    except Invalid as exc:
        errors = {e["field"]: "Required." for e in exc.extra.get("errors", [])} or {"form": exc.message}
        return _form_page(request, actor, values, recipient=recipient, errors=errors, status_code=422)
    return redirect(f"/portal/recipients/{recipient.id}?notice=saved")
