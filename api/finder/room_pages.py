"""The manager's waiting-room page: open a release of seats (when people start being let in, how
many a minute, how long each has to choose) and watch the line. It calls the same services as
POST /location/releases and GET /location/releases/current."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Manager, Reader, SessionDep
from api.finder.schemas import ReleaseIn, room_out
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, field_errors, redirect, render
from services import waiting_room

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)
FIELDS = ("release_at", "admit_per_minute", "admission_minutes")


async def _page(
    request: Request, actor: Reader, db: SessionDep, *, values: dict[str, str], errors: dict[str, str]
) -> Response:
    report = await waiting_room.room_report(db, actor.location)
    return render(
        request,
        "portal/waiting_room.html",
        actor=actor,
        room=room_out(report) if report else None,
        values=values,
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.get("/waiting-room")
async def room_page(request: Request, actor: Reader, db: SessionDep) -> Response:
    return await _page(
        request, actor, db, values={"admit_per_minute": "60", "admission_minutes": "10"}, errors={}
    )


@router.post("/waiting-room")
async def room_submit(request: Request, actor: Manager, form: CheckedForm, db: SessionDep) -> Response:
    """The time is the location's local time (a datetime-local field)."""
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    try:
        local = datetime.fromisoformat(values["release_at"]) if values["release_at"] else None
    except ValueError:
        local = None
    if local is None:
        errors = {"release_at": N_("Give the date and time people start being let in.")}
        return await _page(request, actor, db, values=values, errors=errors)
    try:
        minutes = int(values["admission_minutes"] or "0")
    except ValueError:
        minutes = 0
    try:
        body = ReleaseIn(
            release_at=local.replace(tzinfo=ZoneInfo(actor.location.time_zone)),
            admit_per_minute=values["admit_per_minute"],  # type: ignore[arg-type]
            admission_seconds=minutes * 60,
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        if "admission_seconds" in errors:
            errors["admission_minutes"] = N_("Give between 1 and 60 minutes.")
        return await _page(request, actor, db, values=values, errors=errors)
    await waiting_room.open_release(
        db,
        location=actor.location,
        release_at=body.release_at,
        admit_per_minute=body.admit_per_minute,
        admission_seconds=body.admission_seconds,
        actor=actor.actor,
    )
    return redirect("/portal/waiting-room?notice=release_opened")
