"""Portal pages for the location's inventory lots."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from api.deps import (
    Actor,
    Manager,
    Reader,
    SessionDep,
)
from api.errors import Conflict, Unprocessable, http_status
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, field_errors, redirect, refusal_errors, render
from api.products.schemas import LotIn
from records.db import utcnow
from services import catalog

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)


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
        lots=await catalog.lots(db, actor.location.id),
        product_options=[(p.code, p.name) for p in await catalog.newest_products(db)],
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
        body = LotIn(**posted)
    except ValidationError as exc:
        return await _lots_page(request, actor, db, form=posted, errors=field_errors(exc), status_code=422)
    try:
        await catalog.add_lot(
            db, location_id=actor.location.id, user_id=actor.user.id, actor=actor.actor, **body.model_dump()
        )
    except (Conflict, Unprocessable) as refused:
        errors = refusal_errors(refused, words=LOT_WORDS)
        return await _lots_page(
            request, actor, db, form=posted, errors=errors, status_code=http_status(refused)
        )
    return redirect("/portal/lots?notice=lot_added")
