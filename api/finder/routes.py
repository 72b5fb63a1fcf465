"""Find a vaccine location: a manager publishes the location's listing; anyone (no login) finds
published locations with their address, hours, products in stock, whether they take appointments
or walk-ins, and the next days with free seats, in English or Spanish.

Everything public is read live from the records at request time, so unpublishing removes a
location at once and free seats are the slots' true remaining capacity.
"""

from __future__ import annotations

from typing import Annotated, Literal

from babel.dates import format_date, get_day_names
from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Manager, Public, Reader, SessionDep
from api.finder.schemas import (
    FreeDay,
    ListingIn,
    ListingOut,
    OpeningHours,
    PublicHours,
    PublicLocation,
    PublicProduct,
    listing_out,
)
from records.locations import Location
from services import catalog

router = APIRouter(tags=["find a vaccine location"])

Language = Literal["en", "es"]
product_names = catalog.product_names


@router.get("/location/listing", response_model=ListingOut)
async def read_listing(actor: Reader) -> ListingOut:
    """The active location's public listing, as the finder would show it (when published)."""
    return listing_out(actor.location)


@router.patch("/location/listing", response_model=ListingOut)
async def update_listing(body: ListingIn, actor: Manager, db: SessionDep) -> ListingOut:
    """Publish or unpublish (gone from the finder at once); set walk-ins and opening hours."""
    location = catalog.update_listing(
        db,
        location=actor.location,
        actor=actor.actor,
        published=body.published,
        walk_ins=body.walk_ins,
        opening_hours=(
            [h.model_dump(mode="json") for h in body.opening_hours]
            if body.opening_hours is not None
            else None
        ),
    )
    return listing_out(location)


# --------------------------------------------------------------------------- public


async def products_in_stock(db: AsyncSession, location: Location) -> list[PublicProduct]:
    codes = await catalog.codes_in_stock(db, location)
    names = await product_names(db)
    return [PublicProduct(code=code, name=names.get(code, code)) for code in codes]


async def free_days(db: AsyncSession, location: Location, lang: Language) -> list[FreeDay]:
    """The next days with seats still free in open slots that have not ended (local days)."""
    seats = await catalog.free_seats_by_day(db, location)
    return [
        FreeDay(date=day, label=format_date(day, format="full", locale=lang), free_seats=free)
        for day, free in seats
    ]


def public_hours(location: Location, lang: Language) -> list[PublicHours]:
    names = get_day_names("wide", locale=lang)
    return [
        PublicHours(
            weekday=h.weekday,
            day=names[h.weekday],
            opens=h.opens.strftime("%H:%M"),
            closes=h.closes.strftime("%H:%M"),
        )
        for h in (OpeningHours.model_validate(raw) for raw in location.opening_hours or [])
    ]


async def public_location(db: AsyncSession, location: Location, lang: Language) -> PublicLocation:
    return PublicLocation(
        code=location.code,
        name=location.name,
        address=location.address,
        phone=location.phone,
        time_zone=location.time_zone,
        appointments=location.scheduling_enabled,
        walk_ins=location.walk_ins,
        hours=public_hours(location, lang),
        products=await products_in_stock(db, location),
        free_days=await free_days(db, location, lang) if location.scheduling_enabled else [],
    )


async def find_locations(
    db: AsyncSession, lang: Language, product: str | None = None
) -> list[PublicLocation]:
    found = [await public_location(db, location, lang) for location in await catalog.published_locations(db)]
    if product:
        found = [loc for loc in found if any(p.code == product for p in loc.products)]
    return found


@router.get("/public/locations", response_model=list[PublicLocation], dependencies=[Public])
async def list_public_locations(
    db: SessionDep,
    lang: Language = "en",
    product: Annotated[
        str | None, Query(max_length=40, description="only locations with this product")
    ] = None,
) -> list[PublicLocation]:
    """Published vaccination locations (no login)."""
    return await find_locations(db, lang, product)


@router.get("/public/locations/{code}", response_model=PublicLocation, dependencies=[Public])
async def read_public_location(
    code: Annotated[str, Path(max_length=40)], db: SessionDep, lang: Language = "en"
) -> PublicLocation:
    return await public_location(db, await catalog.published_location(db, code), lang)
