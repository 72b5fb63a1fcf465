"""Find a vaccine location: a manager publishes the location's listing; anyone (no login) finds
published locations with their address, hours, products in stock, whether they take appointments
or walk-ins, and the next days with free seats, in English or Spanish.

Everything public is read from the records at request time and may be kept by a CDN for
CVMS_FINDER_CACHE_SECONDS (ETag, s-maxage, stale-while-revalidate); `near` (a ZIP code or city)
sorts by distance.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import TypeAdapter
from starlette.responses import Response

from api.deps import Manager, Public, Reader, ReadsOnly, SessionDep, SettingsDep
from api.finder.caching import answer_key, cacheable, recent
from api.finder.schemas import (
    ListingIn,
    ListingOut,
    PublicLocation,
    ReleaseIn,
    ReleaseOut,
    RoomOut,
    find_locations,
    listing_changes,
    listing_out,
    public_location,
    room_out,
)
from api.shaping import from_attributes
from domain.recipients import Language
from domain.refusals import NotFound
from services import catalog, waiting_room

router = APIRouter(tags=["find a vaccine location"])


@router.get("/location/listing", response_model=ListingOut)
async def read_listing(actor: Reader) -> ListingOut:
    """The active location's public listing, as the finder would show it (when published)."""
    return listing_out(actor.location)


@router.patch("/location/listing", response_model=ListingOut)
async def update_listing(body: ListingIn, actor: Manager, db: SessionDep) -> ListingOut:
    """Publish or unpublish (gone from the finder at once); set walk-ins and opening hours."""
    location = catalog.update_listing(db, location=actor.location, actor=actor.actor, **listing_changes(body))
    return listing_out(location)


@router.post("/location/releases", response_model=ReleaseOut, status_code=201)
async def open_release(body: ReleaseIn, actor: Manager, db: SessionDep) -> ReleaseOut:
    """Puts a waiting room in front of the location's self-booking: from `release_at` people are let
    in first come, first served, `admit_per_minute` a minute, each with a single-use admission."""
    release = await waiting_room.open_release(
        db,
        location=actor.location,
        release_at=body.release_at,
        admit_per_minute=body.admit_per_minute,
        admission_seconds=body.admission_seconds,
        actor=actor.actor,
    )
    return from_attributes(ReleaseOut, release)


@router.get("/location/releases/current", response_model=RoomOut)
async def current_room(actor: Reader, db: SessionDep) -> RoomOut:
    """The waiting room now: how many wait, choose, have held a seat, let their turn pass; the
    free seats; when the last in line gets a turn at the rate. 404 when there is none."""
    report = await waiting_room.room_report(db, actor.location)
    if report is None:
        raise NotFound("this location has no waiting room", code="no_waiting_room")
    return room_out(report)


# --------------------------------------------------------------------------- public


LOCATIONS = TypeAdapter(list[PublicLocation])


@router.get("/public/locations", response_model=list[PublicLocation], dependencies=[Public, ReadsOnly])
async def list_public_locations(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    lang: Language = "en",
    product: Annotated[
        str | None, Query(max_length=40, description="only locations with this product")
    ] = None,
    near: Annotated[
        str | None, Query(max_length=80, description="a ZIP code or city: nearest first, with the distance")
    ] = None,
) -> Response:
    """Published vaccination locations (no login); cacheable (ETag, s-maxage)."""
    body = LOCATIONS.dump_json(await find_locations(db, lang, product, near))
    # Kept for CVMS_FINDER_SERVER_CACHE_SECONDS: the repeats are answered by FinderFastLane.
    recent.put(
        answer_key(request.scope), body, request.scope.get("route"), settings.finder_server_cache_seconds
    )
    return cacheable(request, Response(body, media_type="application/json"), settings)


@router.get("/public/locations/{code}", response_model=PublicLocation, dependencies=[Public, ReadsOnly])
async def read_public_location(
    request: Request,
    code: Annotated[str, Path(max_length=40)],
    db: SessionDep,
    settings: SettingsDep,
    lang: Language = "en",
) -> Response:
    found = await public_location(db, await catalog.published_location(db, code), lang)
    return cacheable(request, Response(found.model_dump_json(), media_type="application/json"), settings)
