"""The waiting room in front of a release of seats (records/waiting_room.py keeps its state).

Arrivals join a first-come queue (one place per browser and per email, a signed token for it),
see how many wait ahead and an estimate, and when their turn comes (the manager's rate from the
release time) are let in with a single-use admission that expires; the admission is spent in the
same transaction as the seat hold it buys, so a refused hold does not spend it. Once the released
seats are all booked or held, nobody more is let in: the rest are offered the waitlist (and let
in after all if a seat comes back). What a waiting person sees is answered from a picture of the
room each process keeps (services/waiting_room_views.py), not a query per look.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import Conflict, Forbidden, Gone, NotFound
from domain.security import LinkError, read_link, sign_link
from domain.settings import Settings
from records.audit import audit
from records.db import reading, transaction, utcnow
from records.locations import Location
from records.waiting_room import (
    ADMITTED,
    SOLD_OUT,
    USED,
    WAITING,
    QueuePlace,
    Release,
    admit,
    choosing,
    current_release,
    had_turn,
    places_by_status,
    spend_admission,
)
from services.catalog import free_seats_by_day
from services.scheduling import require_scheduling

PLACE_LINK = "queue-place"
ADMISSION_LINK = "queue-admission"
PLACE_MAX_AGE = 7 * 86400


async def open_release(
    db: AsyncSession,
    *,
    location: Location,
    release_at: datetime,
    admit_per_minute: int,
    admission_seconds: int,
    actor: str,
) -> Release:
    """From now on the location's self-booking goes through a waiting room that lets people in
    from `release_at`, `admit_per_minute` a minute, each admission good for `admission_seconds`."""
    require_scheduling(location)
    release = Release(
        location_id=location.id,
        release_at=release_at,
        admit_per_minute=admit_per_minute,
        admission_seconds=admission_seconds,
        created_by=actor,
    )
    db.add(release)
    await db.flush()
    audit(
        db,
        actor=actor,
        location_id=location.id,
        entity="release",
        entity_id=release.id,
        action="open",
        changes={
            "release_at": [None, release_at.isoformat()],
            "admit_per_minute": [None, admit_per_minute],
            "admission_seconds": [None, admission_seconds],
        },
    )
    return release


def new_browser_key() -> str:
    return secrets.token_urlsafe(16)


def place_token(settings: Settings, place: QueuePlace) -> str:
    """The place's address: its id and its release's, so a look needs no query to find the room."""
    return sign_link(settings.secret_key, PLACE_LINK, {"q": place.id, "r": place.release_id})


def admission_token(settings: Settings, place_id: int) -> str:
    return sign_link(settings.secret_key, ADMISSION_LINK, {"q": place_id})


async def join(
    sessions: async_sessionmaker[AsyncSession], *, location: Location, browser_key: str, email: str | None
) -> QueuePlace:
    """A place in the release's queue; the same browser or email gets the place it already has.
    Reads beside the writer, then one short INSERT: on SQLite every transaction that writes holds
    the one write lock, and thousands of arrivals a minute must not hold it while they read."""
    email_key = email.strip().casefold() if email and email.strip() else None
    async with reading(sessions) as db:
        release = await current_release(db, location.id)
        if release is None:
            raise NotFound("this location has no waiting room")
        found = await _place_of(db, release.id, browser_key, email_key)
    if found is not None:
        return found
    place = QueuePlace(release_id=release.id, browser_key=browser_key, email_key=email_key, status=WAITING)
    try:
        async with transaction(sessions) as db:
            db.add(place)
    except IntegrityError:  # the same browser or email joined at the same moment
        async with reading(sessions) as db:
            again = await _place_of(db, release.id, browser_key, email_key)
        assert again is not None
        return again
    return place


async def _place_of(
    db: AsyncSession, release_id: int, browser_key: str, email_key: str | None
) -> QueuePlace | None:
    mine = QueuePlace.browser_key == browser_key
    if email_key:
        mine = mine | (QueuePlace.email_key == email_key)
    found = await db.execute(
        select(QueuePlace).where(QueuePlace.release_id == release_id, mine).order_by(QueuePlace.id).limit(1)
    )
    return found.scalar_one_or_none()


def read_token(settings: Settings, purpose: str, token: str, max_age: float) -> dict[str, int]:
    try:
        payload = read_link(settings.secret_key, purpose, token, max_age)
        return {key: int(value) for key, value in payload.items()}
    except LinkError as error:
        if error.expired:
            raise Gone("this admission has expired", code="admission_expired") from None
        raise Forbidden("this link is not valid", code="link_invalid") from None
    except (TypeError, ValueError, AttributeError):
        raise Forbidden("this link is not valid", code="link_invalid") from None


class ReleaseRate(Protocol):
    """A release's timing: its row, or a process's picture of its room."""

    @property
    def release_at(self) -> datetime: ...

    @property
    def admit_per_minute(self) -> int: ...


def turns_given(release: ReleaseRate, now: datetime) -> int:
    """How many turns the rate has given by now, counted from the release time."""
    if now < release.release_at:
        return 0
    return math.floor((now - release.release_at).total_seconds() * release.admit_per_minute / 60)


@dataclass(frozen=True)
class Seats:
    """The released seats at a moment: free (not booked, not held) and promised to people let in
    who are still choosing."""

    free: int
    choosing: int

    @property
    def to_give(self) -> int:
        return max(0, self.free - self.choosing)

    @property
    def gone(self) -> bool:
        """Nothing free and nothing promised that could come back: the rest are offered the waitlist."""
        return self.free <= 0 and self.choosing <= 0


async def seats_now(db: AsyncSession, location: Location, release: Release, now: datetime) -> Seats:
    free = sum(seats for _day, seats in await free_seats_by_day(db, location))
    return Seats(free=free, choosing=await choosing(db, release.id, now))


async def let_in(db: AsyncSession, location: Location, release: Release, now: datetime) -> Seats:
    """Gives the turns due by now to the earliest waiting places, in arrival order, while seats
    remain unpromised; a turn with no seat to give waits (an expired admission or a cancelled hold
    gives its seat back). Run under the release's lock (records.waiting_room.room_lock): each place
    also moves once, by a conditional UPDATE. Returns the seats as they are afterwards."""
    seats = await seats_now(db, location, release, now)
    due = min(turns_given(release, now) - await had_turn(db, release.id), seats.to_give)
    if due <= 0:
        return seats
    next_up = await db.execute(
        select(QueuePlace.id)
        .where(QueuePlace.release_id == release.id, QueuePlace.status == WAITING)
        .order_by(QueuePlace.id)
        .limit(due)
    )
    expires = now + timedelta(seconds=release.admission_seconds)
    admitted = 0
    for place_id in next_up.scalars().all():
        admitted += await admit(db, place_id, expires)
    return Seats(free=seats.free, choosing=seats.choosing + admitted)


@dataclass(frozen=True)
class RoomReport:
    """A location's waiting room as its manager sees it."""

    release: Release
    waiting: int  # still in line
    choosing: int  # let in, admission still good
    used: int  # held a seat with their admission
    expired: int  # let in, admission ran out unused
    free_seats: int
    everyone_in_by: datetime | None  # when the last in line gets a turn at the rate


async def room_report(db: AsyncSession, location: Location) -> RoomReport | None:
    release = await current_release(db, location.id)
    if release is None:
        return None
    now = utcnow()
    counts = await places_by_status(db, release.id, now)
    waiting = counts.get(WAITING, 0)
    start = max(now, release.release_at)
    return RoomReport(
        release=release,
        waiting=waiting,
        choosing=counts.get(ADMITTED, 0),
        used=counts.get(USED, 0),
        expired=counts.get("expired", 0),
        free_seats=(await seats_now(db, location, release, now)).free,
        everyone_in_by=start + timedelta(minutes=waiting / release.admit_per_minute) if waiting else None,
    )


async def spend(db: AsyncSession, settings: Settings, *, location: Location, token: str | None) -> None:
    """The location's waiting room lets this request through once (nothing to do without one)."""
    release = await current_release(db, location.id)
    if release is None:
        return
    if not token:
        raise Forbidden("wait for your turn in the waiting room first", code="admission_required")
    read = read_token(settings, ADMISSION_LINK, token, release.admission_seconds)
    place = await db.get(QueuePlace, read["q"])
    if place is None or place.release_id != release.id:
        raise Forbidden("this admission is not valid here", code="link_invalid")
    if await spend_admission(db, place.id):
        return
    if place.status == USED:
        raise Conflict("this admission has already been used", code="admission_used")
    if place.status == SOLD_OUT:
        raise Gone("the released seats are all taken", code="sold_out")
    raise Gone("this admission has expired", code="admission_expired")
