"""Request and response models of the location's listing and the public finder (two of them
in the package's __init__, for their OpenAPI name)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any, Literal

from babel.dates import format_date, get_day_names
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.finder import ListingOut, OpeningHours
from api.shaping import from_attributes
from domain.refusals import Invalid
from records.locations import Location
from services import catalog, places
from services.waiting_room import RoomReport


class ListingIn(BaseModel):
    published: bool | None = None
    walk_ins: bool | None = None
    self_scheduling: bool | None = Field(
        default=None, description="people book themselves from the public finder (needs scheduling)"
    )
    opening_hours: list[OpeningHours] | None = Field(default=None, max_length=21)

    @field_validator("opening_hours")
    @classmethod
    def _sorted(cls, value: list[OpeningHours] | None) -> list[OpeningHours] | None:
        return sorted(value, key=lambda h: (h.weekday, h.opens)) if value is not None else None


class PublicHours(BaseModel):
    weekday: int
    day: str
    opens: str
    closes: str


class PublicProduct(BaseModel):
    code: str
    name: str


class FreeDay(BaseModel):
    date: date
    label: str
    free_seats: int


class PublicLocation(BaseModel):
    code: str
    name: str
    address: str
    phone: str
    time_zone: str
    appointments: bool
    walk_ins: bool
    self_scheduling: bool = Field(description="a free time can be booked online from the finder")
    hours: list[PublicHours]
    products: list[PublicProduct]
    free_days: list[FreeDay]
    distance_miles: float | None = Field(
        default=None, description="from the searched ZIP code or city (the ZIP centroids)"
    )


def listing_changes(body: ListingIn) -> dict[str, Any]:
    """The listing fields a manager sent, as ``services.catalog.update_listing`` takes them."""
    hours = body.opening_hours
    return {
        "published": body.published,
        "walk_ins": body.walk_ins,
        "self_scheduling": body.self_scheduling,
        "opening_hours": [h.model_dump(mode="json") for h in hours] if hours is not None else None,
    }


def listing_out(location: Location) -> ListingOut:
    return from_attributes(
        ListingOut,
        location,
        appointments=location.scheduling_enabled,
        opening_hours=[OpeningHours.model_validate(h) for h in location.opening_hours or []],
    )


Language = Literal["en", "es"]


async def products_in_stock(db: AsyncSession, location: Location) -> list[PublicProduct]:
    codes = await catalog.codes_in_stock(db, location)
    names = await catalog.product_names(db)
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
    return from_attributes(
        PublicLocation,
        location,
        appointments=location.scheduling_enabled,
        self_scheduling=location.scheduling_enabled and location.self_scheduling,
        distance_miles=None,
        hours=public_hours(location, lang),
        products=await products_in_stock(db, location),
        free_days=await free_days(db, location, lang) if location.scheduling_enabled else [],
    )


async def find_locations(
    db: AsyncSession, lang: Language, product: str | None = None, near: str | None = None
) -> list[PublicLocation]:
    """Published locations; near a ZIP code or city: nearest first, with the distance."""
    origin = None
    if near and near.strip():
        # The first search may load the ZIP centroids: beside the loop, not on it.
        origin = await asyncio.to_thread(places.search_point, near)
        if origin is None:
            raise Invalid(
                "we do not know this ZIP code or city",
                code="unknown_place",
                errors=[{"field": "near", "message": "unknown ZIP code or city"}],
            )
    found = [await public_location(db, location, lang) for location in await catalog.published_locations(db)]
    if product:
        found = [loc for loc in found if any(p.code == product for p in loc.products)]
    if origin is not None:
        for loc in found:
            point = places.address_point(loc.address)
            loc.distance_miles = round(places.miles_between(origin, point), 1) if point else None
        found.sort(key=lambda loc: (loc.distance_miles is None, loc.distance_miles or 0.0, loc.name))
    return found


class ReleaseIn(BaseModel):
    release_at: datetime = Field(description="when the waiting room starts letting people in")
    admit_per_minute: int = Field(ge=1, le=100_000, description="people let in each minute")
    admission_seconds: int = Field(
        default=600, ge=30, le=3600, description="how long a person let in has to hold a seat"
    )

    @field_validator("release_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with its UTC offset")
        return value


class ReleaseOut(BaseModel):
    id: int
    release_at: datetime
    admit_per_minute: int
    admission_seconds: int


class RoomOut(BaseModel):
    """The location's waiting room now: its release and how many are at each step."""

    release: ReleaseOut
    waiting: int = Field(description="still in line")
    choosing: int = Field(description="let in, admission still good, no seat held yet")
    used: int = Field(description="held a seat with their admission")
    expired: int = Field(description="let in, admission ran out unused (the seat went back)")
    free_seats: int
    everyone_in_by: datetime | None = Field(description="when the last in line gets a turn at the rate")


def room_out(report: RoomReport) -> RoomOut:
    return RoomOut(
        release=from_attributes(ReleaseOut, report.release),
        waiting=report.waiting,
        choosing=report.choosing,
        used=report.used,
        expired=report.expired,
        free_seats=report.free_seats,
        everyone_in_by=report.everyone_in_by,
    )
