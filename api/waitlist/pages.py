"""Waitlist pages of the provider portal: put a recipient on this location's waitlist for a
product and dates (from the recipient page), see the location's waitlist, take a waiting
entry off it. Each calls the same service (services/waitlist.py) as the JSON routes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Actor, PageNumber, Reader, RecordId, Scheduler, SessionDep, WiringDep
from api.doses.recipient_pages import recipient_again
from api.errors import Conflict, Unprocessable
from api.pages.choices import DATES_IN_ORDER
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
from api.waitlist.deps import EntryDep
from api.waitlist.schemas import JoinIn, Status, entry_out
from services import catalog, waitlist
from services.recipients import load_recipient

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

WAITLIST_FIELDS = ("product_code", "earliest_date", "latest_date")


@router.post("/recipients/{recipient_id}/waitlist")
async def join_submit(
    request: Request, recipient_id: RecordId, actor: Scheduler, form: CheckedForm, wiring: WiringDep
) -> Response:
    """Puts the recipient on this location's waitlist; a seat that frees up is offered by email."""
    await load_recipient(wiring.db, recipient_id)
    posted = {name: str(form.get(name, "")).strip() for name in WAITLIST_FIELDS}
    try:
        body = JoinIn(recipient_id=recipient_id, **posted)
    except ValidationError as exc:
        refused = Unprocessable(N_("Please correct the fields marked below."))
        errors = field_errors(exc, across=DATES_IN_ORDER)
        return await recipient_again(
            request, wiring, actor, recipient_id, refused, waitlist_form=posted, waitlist_errors=errors
        )
    try:
        await waitlist.join(
            **wiring.io,
            location=actor.location,
            recipient_id=body.recipient_id,
            product_code=body.product_code,
            dates=body,
            added_by=actor.actor,
        )
    except (Conflict, Unprocessable) as refused:
        return await recipient_again(
            request,
            wiring,
            actor,
            recipient_id,
            refused,
            waitlist_form=posted,
            waitlist_errors=refusal_errors(refused),
        )
    return redirect(f"/portal/recipients/{recipient_id}?notice=waitlist_joined")


async def _waitlist_page(
    request: Request,
    actor: Actor,
    db: SessionDep,
    *,
    status: Status | None,
    page: int,
    failed: str | None = None,
    status_code: int = 200,
) -> Response:
    entries = [await entry_out(db, e) for e in await waitlist.entries(db, actor.location.id, status=status)]
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    names = await waitlist.recipient_names(db, {e.recipient_id for e in shown})
    return render(
        request,
        "portal/waitlist.html",
        actor=actor,
        status_code=status_code,
        here=f"/portal/waitlist?status={status or ''}",
        entries=shown,
        names=names,
        product_names={p.code: p.name for p in await catalog.newest_products(db)},
        status=status or "",
        total=len(entries),
        page=page,
        page_size=PAGE_SIZE,
        pager_base=f"/portal/waitlist?status={status or ''}",
        failed=failed,
    )


@router.get("/waitlist")
async def waitlist_page(
    request: Request, actor: Reader, db: SessionDep, status: Status | None = None, page: PageNumber = 1
) -> Response:
    """Who waits at this location, for which product and dates, and where each one stands."""
    return await _waitlist_page(request, actor, db, status=status, page=page)


@router.post("/waitlist/{entry_id}/remove")
async def remove_submit(
    request: Request, entry_id: RecordId, actor: Scheduler, entry: EntryDep, form: CheckedForm, db: SessionDep
) -> Response:
    target = safe_next(str(form.get("next", "")), "/portal/waitlist")
    try:
        await waitlist.remove_entry(db, entry=entry, actor=actor.actor)
    except Conflict as refused:
        return await _waitlist_page(
            request, actor, db, status=None, page=1, failed=refused.message, status_code=409
        )
    return redirect(f"{target}{'&' if '?' in target else '?'}notice=waitlist_removed")
