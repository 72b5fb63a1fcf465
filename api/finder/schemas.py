"""Request and response models of the location's listing and the public finder (two of them
in the package's __init__, for their OpenAPI name)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator

from api.finder import ListingOut, OpeningHours
from records.locations import Location


class ListingIn(BaseModel):
    published: bool | None = None
    walk_ins: bool | None = None
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
