"""The waiting room's pages (no login): join the line for a location's release, see how many wait
ahead and an estimate, and when the turn comes, go choose a time with a single-use admission.
The rules live in services/waiting_room.py; the pages are cheap (a few indexed counts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import Public, SessionDep, SessionsDep, SettingsDep, WiringDep
from api.pages.csrf import CheckedForm
from api.pages.rendering import PageRoute, redirect, render
from records.waiting_room import current_release
from services import self_scheduling as selfs
from services import waiting_room

router = APIRouter(prefix="/find", route_class=PageRoute, include_in_schema=False)
BROWSER_COOKIE = "cvms_queue"


@router.get("/{code}/queue", dependencies=[Public])
async def join_page(request: Request, code: str, db: SessionDep) -> Response:
    location = await selfs.self_service_location(db, code)
    release = await current_release(db, location.id)
    return render(
        request, "public/queue_join.html", time_zone=location.time_zone, location=location, release=release
    )


@router.post("/{code}/queue", dependencies=[Public])
async def join_submit(request: Request, code: str, form: CheckedForm, wiring: WiringDep) -> Response:
    """One place per browser (its cookie) and per email: joining again returns the same place."""
    location = await selfs.self_service_location(wiring.db, code)
    browser = request.cookies.get(BROWSER_COOKIE) or waiting_room.new_browser_key()
    email = str(form.get("email", "")).strip()[:254] or None
    place = await waiting_room.join(wiring.db, location=location, browser_key=browser, email=email)
    await wiring.db.flush()
    response = redirect(f"/find/queue/{waiting_room.place_token(wiring.settings, place)}")
    response.set_cookie(
        BROWSER_COOKIE, browser, max_age=waiting_room.PLACE_MAX_AGE, httponly=True, samesite="lax"
    )
    return response


@router.get("/queue/{token}", dependencies=[Public])
async def position_page(
    request: Request, token: str, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    """No request transaction: short reads (and a short write when turns are due) of its own."""
    view = await waiting_room.look(sessions, settings, token)
    admission = (
        waiting_room.admission_token(settings, view.place)
        if view.place.status == waiting_room.ADMITTED
        else None
    )
    response = render(
        request,
        "public/queue_place.html",
        time_zone=view.location.time_zone,
        view=view,
        token=token,
        admission=admission,
        minutes=None if view.wait_seconds is None else max(1, round(view.wait_seconds / 60)),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
