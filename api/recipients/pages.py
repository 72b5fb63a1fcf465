"""Recipient pages: find, register (with the duplicate warning), view and edit."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import Reader, RecordId, Registrar, SessionDep, SettingsDep
from api.doses.recipient_pages import recipient_response
from api.pages.csrf import CheckedForm
from api.pages.rendering import PAGE_SIZE, PageRoute, field_errors, redirect, render
from api.recipients.schemas import EDITABLE, RecipientCreate, RecipientUpdate
from domain.refusals import Conflict, Invalid
from records.recipients import Recipient
from services.recipients import edit, load_recipient, register, search

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

SEARCH_FIELDS = ("name", "date_of_birth", "phone", "email")


@router.get("")
async def home(request: Request, actor: Reader) -> Response:
    query = dict.fromkeys(SEARCH_FIELDS, "")
    return render(request, "portal/home.html", actor=actor, query=query, errors={}, results=None)


@router.get("/recipients")
async def search_page(
    request: Request, actor: Reader, db: SessionDep, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    query = {name: request.query_params.get(name, "").strip() for name in SEARCH_FIELDS}
    errors: dict[str, str] = {}
    born: date | None = None
    if query["date_of_birth"]:
        try:
            born = date.fromisoformat(query["date_of_birth"])
        except ValueError:
            errors["date_of_birth"] = "Enter a date."
    results: list[Recipient] | None = None
    total = 0
    if not any(query.values()):
        return render(request, "portal/home.html", actor=actor, query=query, errors={}, results=None)
    if not errors:
        try:
            results, total = await search(
                db,
                name=query["name"] or None,
                date_of_birth=born,
                phone=query["phone"] or None,
                email=query["email"] or None,
                page=page,
                page_size=PAGE_SIZE,
            )
        except Invalid as exc:
            field = next((e["field"] for e in exc.extra.get("errors", [])), "form")
            errors[field] = exc.message[:1].upper() + exc.message[1:] + "."
    return render(
        request,
        "portal/home.html",
        actor=actor,
        status_code=422 if errors else 200,
        query=query,
        errors=errors,
        results=results,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        pager_base="/portal/recipients?" + urlencode(query),
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
