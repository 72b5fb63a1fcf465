"""The waiting room's pages (no login): join the line for a location's release, see how many wait
ahead and an estimate, and when the turn comes, go choose a time with a single-use admission.
The rules live in services/waiting_room.py; a waiting place is answered from the process's
picture of the room (services/waiting_room_views.py), so a crowd's looks read no rows."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import Public, SessionDep, SessionsDep, SettingsDep
from api.pages import i18n
from api.pages.csrf import CheckedForm
from api.pages.rendering import PageRoute, redirect, render
from records.db import reading
from records.waiting_room import current_release
from services import self_scheduling as selfs
from services import waiting_room
from services import waiting_room_views as views
from services.waiting_room_views import PlaceView

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
async def join_submit(
    request: Request, code: str, form: CheckedForm, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    """One place per browser (its cookie) and per email: joining again returns the same place.
    No request transaction: the join reads beside the writer and writes one short INSERT."""
    async with reading(sessions) as db:
        location = await selfs.self_service_location(db, code)
    browser = request.cookies.get(BROWSER_COOKIE) or waiting_room.new_browser_key()
    email = str(form.get("email", "")).strip()[:254] or None
    place = await waiting_room.join(sessions, location=location, browser_key=browser, email=email)
    response = redirect(f"/find/queue/{waiting_room.place_token(settings, place)}")
    response.set_cookie(
        BROWSER_COOKIE, browser, max_age=waiting_room.PLACE_MAX_AGE, httponly=True, samesite="lax"
    )
    return response


def minutes_of(view: PlaceView) -> int | None:
    return None if view.wait_seconds is None else max(1, round(view.wait_seconds / 60))


def place_text(view: PlaceView) -> str:
    """The one line that says where a waiting place stands, in the page's language."""
    if view.status != views.WAITING:
        return ""
    minutes = minutes_of(view) or 1
    return (
        i18n.ngettext("%(num)d person is ahead of you.", "%(num)d people are ahead of you.", view.ahead)
        % {"num": view.ahead}
        + " "
        + i18n.ngettext(
            "Your turn comes in about %(num)d minute.", "Your turn comes in about %(num)d minutes.", minutes
        )
        % {"num": minutes}
    )


@router.get("/queue/{token}", dependencies=[Public])
async def position_page(
    request: Request, token: str, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    """No request transaction: a waiting place is answered from this process's picture of the
    room (services/waiting_room_views.py); the page asks /status again as it suggests."""
    view = await views.look(sessions, settings, token)
    i18n.use_language(i18n.request_language(request))
    response = render(
        request,
        "public/queue_place.html",
        time_zone=view.location.time_zone,
        view=view,
        token=token,
        text=place_text(view),
        admission=(
            waiting_room.admission_token(settings, view.place_id) if view.status == views.ADMITTED else None
        ),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/queue/{token}/status", dependencies=[Public])
async def position_status(
    request: Request, token: str, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    """What the position page's script asks every `check_again_seconds`: the page reloads when
    `status` changes (the turn came, the seats are gone)."""
    view = await views.look(sessions, settings, token)
    i18n.use_language(i18n.request_language(request))
    body = {
        "status": view.status,
        "ahead": view.ahead,
        "wait_seconds": view.wait_seconds,
        "check_again_seconds": view.check_again_seconds,
        "text": place_text(view),
    }
    return Response(
        json.dumps(body, separators=(",", ":")),
        media_type="application/json",
        headers={"Cache-Control": "private, no-store"},
    )
