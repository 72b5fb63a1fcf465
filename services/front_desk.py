"""What the front desk and the scheduler see first: today's appointments at the location, one
search box that takes a name, a phone number or a date of birth, the recipient's next step in
the series, and the location's slots a day or a week at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import to_local
from domain.journey_messages import AppointmentFact
from domain.recipients import phone_digits
from domain.refusals import Invalid
from domain.settings import Settings
from records.db import utcnow
from records.locations import Location
from records.scheduling import Slot
from services.catalog import product_names
from services.doses import recipient_doses
from services.next_dose import SeriesState, series_state
from services.scheduling import day_bounds, search_appointments

# A date of birth as people type it: 1975-06-30, 6/30/1975 or 30-06-1975 is not taken (ambiguous
# day/month order is read the US way, month first, as the forms of the programme are).
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class Lookup:
    """One search box's text, read as the search's parts."""

    name: str | None = None
    date_of_birth: date | None = None
    phone: str | None = None


def read_lookup(text: str) -> Lookup:
    """A word that is a date is the date of birth; what is left is a phone number when it has
    no letter, otherwise a name."""
    born: date | None = None
    rest: list[str] = []
    for word in text.split():
        matched = _ISO_DATE.match(word) or _US_DATE.match(word)
        if matched is None:
            rest.append(word)
            continue
        parts = [int(p) for p in matched.groups()]
        year, month, day = parts if _ISO_DATE.match(word) else (parts[2], parts[0], parts[1])
        try:
            born = date(year, month, day)
        except ValueError:
            raise Invalid(
                "enter the date of birth as 1975-06-30 or 6/30/1975",
                errors=[{"field": "q", "message": "not a date"}],
            ) from None
    left = " ".join(rest)
    if left and not any(ch.isalpha() for ch in left) and phone_digits(left):
        return Lookup(date_of_birth=born, phone=left)
    return Lookup(name=left or None, date_of_birth=born)


@dataclass(frozen=True)
class DayAppointment:
    appointment: AppointmentFact
    recipient_name: str
    product_name: str


async def appointments_on(db: AsyncSession, location: Location, day: date) -> list[DayAppointment]:
    """The location's appointments of a day, soonest first, with the product's name."""
    names = await product_names(db)
    return [
        DayAppointment(fact, who, names.get(fact.product_code, fact.product_code))
        for fact, who in await search_appointments(db, location, day=day, limit=500)
    ]


async def next_step(
    db: AsyncSession, settings: Settings, location: Location, recipient_id: int
) -> SeriesState:
    """Where the recipient's series stands, by the doses given (wherever given)."""
    given = [d for d in await recipient_doses(db, recipient_id) if not d.removed]
    return await series_state(db, settings, given, recipient_id, local_day(utcnow(), location.time_zone))


@dataclass(frozen=True)
class SlotDay:
    day: date
    slots: list[Slot]

    @property
    def capacity(self) -> int:
        return sum(s.capacity for s in self.slots)

    @property
    def used(self) -> int:
        return sum(s.booked + s.held for s in self.slots)


async def slot_days(
    db: AsyncSession, location: Location, first: date, days: int, product_code: str | None = None
) -> list[SlotDay]:
    """The location's slots from `first` for `days` days (its own calendar days), day by day,
    every day listed even when it has none; optionally of one product."""
    start, _ = day_bounds(first, location.time_zone)
    _, end = day_bounds(first + timedelta(days=days - 1), location.time_zone)
    query = select(Slot).where(Slot.location_id == location.id, Slot.start_at >= start, Slot.start_at < end)
    if product_code:
        query = query.where(Slot.product_code == product_code)
    found = list((await db.execute(query.order_by(Slot.start_at, Slot.id).limit(2000))).scalars())
    by_day: dict[date, list[Slot]] = {first + timedelta(days=n): [] for n in range(days)}
    for slot in found:
        by_day.setdefault(local_day(slot.start_at, location.time_zone), []).append(slot)
    return [SlotDay(day, slots) for day, slots in sorted(by_day.items())]


def local_day(instant: datetime, time_zone: str) -> date:
    return to_local(instant, time_zone).date()
