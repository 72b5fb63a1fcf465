"""Find a vaccine location: a manager publishes the location's listing; anyone (no login) finds
published locations with their address, hours, products in stock, whether they take appointments
or walk-ins, and the next days with free seats, in English or Spanish.

Everything public is read live from the records at request time, so unpublishing removes a
location at once and free seats are the slots' true remaining capacity.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Literal

from babel.dates import format_date, get_day_names
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Manager, Public, Reader, SessionDep
from api.errors import NotFound
from domain.dose_rules import to_local
from records.audit import audit, diff
from records.db import utcnow
from records.locations import Location
from records.products import InventoryLot, Product
from records.scheduling import Slot

router = APIRouter(tags=["find a vaccine location"])

Language = Literal["en", "es"]
# How far ahead the finder looks for free seats, and how many days it lists.
LOOKAHEAD_DAYS = 14
FREE_DAYS_SHOWN = 7


class OpeningHours(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> OpeningHours:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self


class ListingIn(BaseModel):
    published: bool | None = None
    walk_ins: bool | None = None
    opening_hours: list[OpeningHours] | None = Field(default=None, max_length=21)

    @field_validator("opening_hours")
    @classmethod
    def _sorted(cls, value: list[OpeningHours] | None) -> list[OpeningHours] | None:
        return sorted(value, key=lambda h: (h.weekday, h.opens)) if value is not None else None


class ListingOut(BaseModel):
    code: str
    name: str
    published: bool
    appointments: bool
    walk_ins: bool
    opening_hours: list[OpeningHours]


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
    hours: list[PublicHours]
    products: list[PublicProduct]
    free_days: list[FreeDay]


def listing_out(location: Location) -> ListingOut:
    return ListingOut(
        code=location.code,
        name=location.name,
        published=location.published,
        appointments=location.scheduling_enabled,
        walk_ins=location.walk_ins,
        opening_hours=[OpeningHours.model_validate(h) for h in location.opening_hours or []],
    )


def _hours_snapshot(location: Location) -> dict[str, object]:
    return {
        "published": location.published,
        "walk_ins": location.walk_ins,
        "opening_hours": str(location.opening_hours),
    }


@router.get("/location/listing", response_model=ListingOut)
async def read_listing(actor: Reader) -> ListingOut:
    """The active location's public listing, as the finder would show it (when published)."""
    return listing_out(actor.location)


@router.patch("/location/listing", response_model=ListingOut)
async def update_listing(body: ListingIn, actor: Manager, db: SessionDep) -> ListingOut:
    """Publish or unpublish (gone from the finder at once); set walk-ins and opening hours."""
    location = actor.location
    before = _hours_snapshot(location)
    if body.published is not None:
        location.published = body.published
    if body.walk_ins is not None:
        location.walk_ins = body.walk_ins
    if body.opening_hours is not None:
        location.opening_hours = [h.model_dump(mode="json") for h in body.opening_hours]
    changes = diff(before, _hours_snapshot(location))
    if changes:
        audit(
            db,
            actor=actor.actor,
            location_id=location.id,
            entity="location",
            entity_id=location.id,
            action="listing",
            changes=changes,
        )
    return listing_out(location)


# --------------------------------------------------------------------------- public


async def products_in_stock(db: AsyncSession, location: Location) -> list[PublicProduct]:
    today = to_local(utcnow(), location.time_zone).date()
    codes = (
        await db.execute(
            select(InventoryLot.product_code)
            .where(
                InventoryLot.location_id == location.id,
                InventoryLot.on_hand > 0,
                InventoryLot.expires_on >= today,
            )
            .distinct()
        )
    ).scalars()
    names = await product_names(db)
    return [PublicProduct(code=code, name=names.get(code, code)) for code in sorted(codes)]


async def product_names(db: AsyncSession) -> dict[str, str]:
    newest = (
        select(Product.code, func.max(Product.version).label("version")).group_by(Product.code).subquery()
    )
    rows = await db.execute(
        select(Product.code, Product.name).join(
            newest, (newest.c.code == Product.code) & (newest.c.version == Product.version)
        )
    )
    return dict(rows.all())


async def free_days(db: AsyncSession, location: Location, lang: Language) -> list[FreeDay]:
    """The next days with seats still free in open slots that have not ended (local days)."""
    now = utcnow()
    rows = await db.execute(
        # Held seats (registration in progress, waitlist offers) are not free.
        select(Slot.start_at, Slot.capacity - Slot.booked - Slot.held).where(
            Slot.location_id == location.id,
            Slot.is_open.is_(True),
            Slot.booked + Slot.held < Slot.capacity,
            Slot.end_at > now,
            Slot.start_at < now + timedelta(days=LOOKAHEAD_DAYS),
        )
    )
    seats: dict[date, int] = {}
    for start_at, free in rows.all():
        day = to_local(start_at, location.time_zone).date()
        seats[day] = seats.get(day, 0) + int(free)
    return [
        FreeDay(date=day, label=format_date(day, format="full", locale=lang), free_seats=seats[day])
        for day in sorted(seats)[:FREE_DAYS_SHOWN]
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
    rows = (
        await db.execute(select(Location).where(Location.published.is_(True)).order_by(Location.name))
    ).scalars()
    found = [await public_location(db, location, lang) for location in rows]
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
    location = (
        await db.execute(select(Location).where(Location.code == code.upper(), Location.published.is_(True)))
    ).scalar_one_or_none()
    if location is None:
        raise NotFound("no such published location")
    return await public_location(db, location, lang)
