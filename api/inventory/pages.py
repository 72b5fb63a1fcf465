"""Inventory pages: stock per product and lot with booked demand against it, deliveries, waste and
transfers; the marketplace of surplus offers and shortage requests; the location's public listing.
Every form calls the same functions as the JSON API, so the rules are the same."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import Response

from api.deps import Actor, Documenter, Manager, Reader, SessionDep
from api.errors import http_status
from api.finder.schemas import ListingIn, listing_changes, listing_out
from api.inventory import schemas
from api.inventory.deps import LotDep, TransferDep
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, field_errors, redirect, render
from api.products.schemas import LotIn
from domain.refusals import Refusal
from records.locations import Location
from services import catalog, inventory, marketplace

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

WASTE_REASONS = [
    ("expired", N_("Expired")),
    ("broken_vial", N_("Broken vial")),
    ("drawn_not_given", N_("Drawn but not given")),
]
STATUS_NAMES = {
    "proposed": N_("Waiting for confirmation"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "open": N_("Open"),
    "matched": N_("Matched"),
    "fulfilled": N_("Fulfilled"),
    "withdrawn": N_("Withdrawn"),
}
# The small forms in each lot's row, and what they say when their number is not one.
ROW_FORMS = ("receipt", "waste")
ROW_FORM_ERROR = N_("Enter a whole number of doses, at least 1.")
WEEKDAYS = [
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
]


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


def _parse(model: type[BaseModel], values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return model(**{k: v for k, v in values.items() if v != ""}), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def _form_state(context: dict[str, Any]) -> dict[str, Any]:
    """A page's context with the sent-back form's values, errors and name (`posted`), empty when
    no form was sent back."""
    return {"errors": {}, "form": {}, "posted": None, **context}


async def _location_names(db: SessionDep) -> dict[int, str]:
    return dict((await db.execute(select(Location.id, Location.name))).all())


# --------------------------------------------------------------------------- inventory


async def _inventory_page(request: Request, actor: Actor, db: SessionDep, **context: Any) -> Response:
    return render(
        request,
        "portal/inventory.html",
        actor=actor,
        stock=await inventory.read_inventory(db, actor.location),
        demand=schemas.demand_out(await inventory.demand_against_stock(db, actor.location, 7)),
        product_names=await catalog.product_names(db),
        transfers=await inventory.list_transfers(db, actor.location),
        location_names=await _location_names(db),
        product_list=await catalog.newest_products(db),
        waste_reasons=WASTE_REASONS,
        status_names=STATUS_NAMES,
        **_form_state(context),
    )


@router.get("/inventory")
async def inventory_page(request: Request, actor: Reader, db: SessionDep) -> Response:
    return await _inventory_page(request, actor, db)


async def _submit(
    page: Callable[..., Awaitable[Response]],
    request: Request,
    actor: Actor,
    db: SessionDep,
    model: type[BaseModel],
    values: dict[str, Any],
    action: Callable[[Any], Awaitable[Any]],
    *,
    posted: str,
) -> tuple[Response | None, Any]:
    """Validates the form and runs the action: its result, or `page` rendered again with why.
    `posted` names the form, so its errors and values show in it; a lot row's small forms
    (receipt, waste) have no room for them and say it above the page instead."""
    body, errors = _parse(model, values)
    if errors and posted in ROW_FORMS:
        failed = ROW_FORM_ERROR if "doses" in errors else next(iter(errors.values()))
        return await page(request, actor, db, failed=failed, status_code=422), None
    if errors:
        return await page(
            request, actor, db, form=values, errors=errors, posted=posted, status_code=422
        ), None
    try:
        return None, await action(body)
    except Refusal as exc:
        refused = await page(
            request, actor, db, form=values, posted=posted, failed=exc.message, status_code=http_status(exc)
        )
        return refused, None


async def _transfer_step(
    request: Request, actor: Actor, db: SessionDep, step: Callable[[], Awaitable[Any]], notice: str
) -> Response:
    """Confirms or cancels a transfer; a refusal re-renders the inventory page with why."""
    try:
        await step()
    except Refusal as exc:
        return await _inventory_page(request, actor, db, failed=exc.message, status_code=http_status(exc))
    return redirect(f"/portal/inventory?notice={notice}")


@router.post("/inventory/lots")
async def receive_lot_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    values = _values(form, ("product_code", "lot_number", "expires_on", "doses_received"))
    refused, _ = await _submit(
        _inventory_page,
        request,
        actor,
        db,
        LotIn,
        values,
        lambda body: catalog.add_lot(
            db, location_id=actor.location.id, user_id=actor.user.id, actor=actor.actor, **body.model_dump()
        ),
        posted="lot",
    )
    return refused or redirect("/portal/inventory?notice=stock_received")


@router.post("/inventory/lots/{lot_id}/receipts")
async def receipt_submit(
    request: Request, lot: LotDep, actor: Manager, form: CheckedForm, db: SessionDep
) -> Response:
    values = _values(form, ("doses",))
    refused, _ = await _submit(
        _inventory_page,
        request,
        actor,
        db,
        schemas.ReceiptIn,
        values,
        lambda body: inventory.receive_doses(db, actor, lot, body.doses, body.note),
        posted="receipt",
    )
    return refused or redirect("/portal/inventory?notice=stock_received")


@router.post("/inventory/lots/{lot_id}/waste")
async def waste_submit(
    request: Request, lot: LotDep, actor: Documenter, form: CheckedForm, db: SessionDep
) -> Response:
    values = _values(form, ("doses", "reason", "note"))
    refused, _ = await _submit(
        _inventory_page,
        request,
        actor,
        db,
        schemas.WasteIn,
        values,
        lambda body: inventory.waste_doses(db, actor, lot, body.doses, body.reason.value, body.note),
        posted="waste",
    )
    return refused or redirect("/portal/inventory?notice=waste_logged")


@router.post("/inventory/transfers")
async def transfer_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    values = _values(form, ("to_location_code", "lot_id", "doses"))
    refused, _ = await _submit(
        _inventory_page,
        request,
        actor,
        db,
        schemas.TransferIn,
        values,
        lambda body: inventory.send_transfer(
            db, actor, to_location_code=body.to_location_code, lot_id=body.lot_id, doses=body.doses
        ),
        posted="transfer",
    )
    return refused or redirect("/portal/inventory?notice=transfer_proposed")


@router.post("/inventory/transfers/{transfer_id}/confirm")
async def confirm_submit(
    request: Request, transfer: TransferDep, actor: Manager, form: CheckedForm, db: SessionDep
) -> Response:
    return await _transfer_step(
        request, actor, db, lambda: inventory.confirm(db, actor, transfer), "transfer_confirmed"
    )


@router.post("/inventory/transfers/{transfer_id}/cancel")
async def cancel_submit(
    request: Request, transfer: TransferDep, actor: Manager, form: CheckedForm, db: SessionDep
) -> Response:
    return await _transfer_step(
        request, actor, db, lambda: inventory.cancel(db, actor, transfer), "transfer_cancelled"
    )


# --------------------------------------------------------------------------- marketplace


async def _marketplace_page(request: Request, actor: Actor, db: SessionDep, **context: Any) -> Response:
    return render(
        request,
        "portal/marketplace.html",
        actor=actor,
        board=await marketplace.read_marketplace(db, actor.location),
        stock=await inventory.read_inventory(db, actor.location),
        product_list=await catalog.newest_products(db),
        status_names=STATUS_NAMES,
        **_form_state(context),
    )


@router.get("/marketplace")
async def marketplace_page(request: Request, actor: Reader, db: SessionDep) -> Response:
    return await _marketplace_page(request, actor, db)


async def _post_listing(
    request: Request,
    actor: Actor,
    db: SessionDep,
    model: type[BaseModel],
    values: dict[str, Any],
    action: Callable[[Any], Awaitable[Any]],
    *,
    posted: str,
) -> Response:
    """`posted` ("offer" or "request") names the form, so its errors and values stay in it."""
    refused, listing = await _submit(
        _marketplace_page, request, actor, db, model, values, action, posted=posted
    )
    return refused or redirect(
        "/portal/marketplace?notice=" + ("listing_matched" if listing.transfer else "listing_posted")
    )


@router.post("/marketplace/offers")
async def offer_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    values = _values(form, ("lot_id", "doses"))
    return await _post_listing(
        request,
        actor,
        db,
        schemas.OfferIn,
        values,
        lambda body: marketplace.offer_surplus(db, actor, lot_id=body.lot_id, doses=body.doses),
        posted="offer",
    )


@router.post("/marketplace/requests")
async def request_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    values = _values(form, ("product_code", "doses"))
    return await _post_listing(
        request,
        actor,
        db,
        schemas.ShortageIn,
        values,
        lambda body: marketplace.request_doses(db, actor, product_code=body.product_code, doses=body.doses),
        posted="request",
    )


# --------------------------------------------------------------------------- public listing


@router.get("/listing")
async def listing_page(request: Request, actor: Reader) -> Response:
    return render(
        request,
        "portal/listing.html",
        actor=actor,
        listing=listing_out(actor.location),
        weekdays=WEEKDAYS,
    )


@router.post("/listing")
async def listing_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    """Publishes or unpublishes, and sets walk-ins and the opening hours (one row per weekday)."""
    hours = []
    for weekday in range(7):
        opens, closes = str(form.get(f"opens_{weekday}", "")), str(form.get(f"closes_{weekday}", ""))
        if opens or closes:
            hours.append({"weekday": weekday, "opens": opens, "closes": closes})
    values = {
        "published": form.get("published") == "on",
        "walk_ins": form.get("walk_ins") == "on",
        "self_scheduling": form.get("self_scheduling") == "on",
        "opening_hours": hours,
    }
    try:
        body = ListingIn(**values)
    except ValidationError:
        return render(
            request,
            "portal/listing.html",
            actor=actor,
            listing=listing_out(actor.location),
            weekdays=WEEKDAYS,
            failed=N_("Each day needs an opening time before its closing time."),
            status_code=422,
        )
    catalog.update_listing(db, location=actor.location, actor=actor.actor, **listing_changes(body))
    return redirect("/portal/listing?notice=listing_saved")
