"""Dose-series pages of the provider portal: a recipient's doses and appointments (check in,
document, edit and remove a dose, book, cancel, reschedule): the context the recipient page
shows, and the page again after a refused change. What it reads comes from the services
(services/doses.py), so the page and the JSON API answer alike."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import Actor, Wiring
from api.eligibility.pages import Asked, asked
from api.errors import ApiError, Unprocessable, http_status
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, render
from api.waitlist.schemas import entry_out
from domain.settings import Settings
from records.db import reading, utcnow
from records.eligibility import screening_questions
from services import catalog, front_desk
from services import schedules as schedules_service
from services.doses import recipient_series
from services.recipients import load_recipient
from services.waitlist import entries as waitlist_entries

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

# What the dose form posts besides the screening answers (kept when the dose is refused).
DOSE_FIELDS = ("lot_id", "injection_site", "route", "administered_by", "given_at")


def local_instant(value: str, time_zone: str) -> datetime:
    """A datetime-local form value in the location's time zone, as an aware instant."""
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(time_zone))


def form_int(form: FormData, name: str) -> int:
    try:
        return int(str(form.get(name, "")))
    except ValueError:
        raise Unprocessable(
            N_("Choose one of the options."), errors=[{"field": name, "message": "required"}]
        ) from None


async def recipient_context(
    db: AsyncSession, settings: Settings, actor: Actor, recipient_id: int
) -> dict[str, Any]:
    """What the recipient page shows about the series at the active location."""
    recipient = await load_recipient(db, recipient_id)
    found = await recipient_series(db, settings, location=actor.location, recipient_id=recipient_id)
    given = [d for d, _loc, _p in found.doses if not d.removed]
    product_names = await catalog.product_names(db)
    series_product = given[-1].product_code if given else None
    return {
        "recipient": recipient,
        "doses": [{"dose": d, "location": loc, "product": p} for d, loc, p in found.doses],
        "appointments": found.appointments,
        "active_appointment": next(
            (a for a in found.appointments if a.status in ("booked", "checked_in")), None
        ),
        "lots": found.lots,
        # A booked or later dose is of one product: its lot that expires first is the default. A
        # walk-in starting a series chooses the lot (and with it the product) itself.
        "next_product": found.next_product,
        "default_lot_id": found.lots[0].id if found.next_product and found.lots else None,
        "product_names": product_names,
        "open_slots": found.open_slots,
        "conditions": await schedules_service.conditions_of(db, recipient_id),
        "next_step": await front_desk.next_step(db, settings, actor.location, recipient_id),
        **await _document_screening(db, sorted({lot.product_code for lot in found.lots}), product_names),
        "waitlist_entries": [
            await entry_out(db, entry)
            for entry in await waitlist_entries(db, actor.location.id, recipient_id=recipient_id)
        ]
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
    request: Request, wiring: Wiring, actor: Actor, recipient_id: int, error: ApiError, **shown: Any
) -> Response:
    """The recipient page after a refusal, read afresh: the request's own transaction may have
    ended when the change went to the workflow."""
    async with reading(wiring.sessions) as fresh:
        return await recipient_response(
            request, fresh, wiring.settings, actor, recipient_id, status_code=http_status(error), **shown
        )
