"""The waiting room in front of a release of seats (records/waiting_room.py keeps its state).

Arrivals join a first-come queue (one place per browser and per email, a signed token for it),
see how many wait ahead and an estimate, and when their turn comes (the manager's rate from the
release time) are let in with a single-use admission that expires; the admission is spent in the
same transaction as the seat hold it buys, so a refused hold does not spend it. Once the released
seats are all booked or held, nobody more is let in: the rest are offered the waitlist.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
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
    current_release,
    rank,
    sold_out,
    spend_admission,
    waiting_ahead,
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
    return sign_link(settings.secret_key, PLACE_LINK, {"q": place.id})


def admission_token(settings: Settings, place: QueuePlace) -> str:
    return sign_link(settings.secret_key, ADMISSION_LINK, {"q": place.id})


async def join(db: AsyncSession, *, location: Location, browser_key: str, email: str | None) -> QueuePlace:
    """A place in the release's queue; the same browser or email gets the place it already has."""
    release = await current_release(db, location.id)
    if release is None:
        raise NotFound("this location has no waiting room")
    email_key = email.strip().casefold() if email and email.strip() else None
    mine = QueuePlace.browser_key == browser_key
    if email_key:
        mine = mine | (QueuePlace.email_key == email_key)
    found = (
        await db.execute(
            select(QueuePlace)
            .where(QueuePlace.release_id == release.id, mine)
            .order_by(QueuePlace.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    place = QueuePlace(release_id=release.id, browser_key=browser_key, email_key=email_key, status=WAITING)
    try:
        async with db.begin_nested():
            db.add(place)
    except IntegrityError:  # the same browser or email joined at the same moment
        return (
            await db.execute(
                select(QueuePlace)
                .where(QueuePlace.release_id == release.id, mine)
                .order_by(QueuePlace.id)
                .limit(1)
            )
        ).scalar_one()
    return place


def _read(settings: Settings, purpose: str, token: str, max_age: float) -> int:
    try:
        return int(read_link(settings.secret_key, purpose, token, max_age)["q"])
    except LinkError as error:
        if error.expired:
            raise Gone("this admission has expired", code="admission_expired") from None
        raise Forbidden("this link is not valid", code="link_invalid") from None


@dataclass(frozen=True)
class PlaceView:
    place: QueuePlace
    release: Release
    location: Location
    ahead: int
    wait_seconds: int | None  # None once the turn has come


def turns_given(release: Release, now: datetime) -> int:
    """How many places have had their turn by now (the rate, counted from the release time)."""
    if now < release.release_at:
        return 0
    return math.floor((now - release.release_at).total_seconds() * release.admit_per_minute / 60)


async def _seats_to_give(db: AsyncSession, location: Location, release: Release) -> int:
    """Free seats not already promised to someone let in and still choosing."""
    free = sum(seats for _day, seats in await free_seats_by_day(db, location))
    choosing = await db.scalar(
        select(func.count())
        .select_from(QueuePlace)
        .where(
            QueuePlace.release_id == release.id,
            QueuePlace.status == ADMITTED,
            QueuePlace.admission_expires_at > utcnow(),
        )
    )
    return free - int(choosing or 0)


async def turns_due(db: AsyncSession, release: Release, now: datetime) -> int:
    """Turns given by now that no place has had yet."""
    had_turn = await db.scalar(
        select(func.count())
        .select_from(QueuePlace)
        .where(QueuePlace.release_id == release.id, QueuePlace.status != WAITING)
    )
    return turns_given(release, now) - int(had_turn or 0)


async def let_in(db: AsyncSession, location: Location, release: Release, now: datetime) -> None:
    """Gives the turns due by now to the earliest waiting places, in arrival order: each is let in
    while seats remain unpromised, told the seats are gone after that. Any process may run it (each
    place moves once, by a conditional UPDATE); it runs whenever someone looks at their place."""
    due = await turns_due(db, release, now)
    if due <= 0:
        return
    next_up = await db.execute(
        select(QueuePlace.id)
        .where(QueuePlace.release_id == release.id, QueuePlace.status == WAITING)
        .order_by(QueuePlace.id)
        .limit(due)
    )
    seats = await _seats_to_give(db, location, release)
    expires = now + timedelta(seconds=release.admission_seconds)
    for place_id in next_up.scalars().all():
        if seats > 0 and await admit(db, place_id, expires):
            seats -= 1
        elif seats <= 0:
            await sold_out(db, place_id)


async def look(sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str) -> PlaceView:
    """Where a place stands. It reads only, one connection at a time (a crowd of lookers runs side
    by side); when turns are due it gives them first, in arrival order, in a short transaction."""
    place_id = _read(settings, PLACE_LINK, token, PLACE_MAX_AGE)
    async with reading(sessions) as db:
        place = await db.get(QueuePlace, place_id)
        if place is None:
            raise NotFound("no such place in the queue")
        release = await db.get(Release, place.release_id)
        location = await db.get(Location, release.location_id) if release else None
        assert release is not None and location is not None
        now = utcnow()
        due = place.status == WAITING and await turns_due(db, release, now) > 0
    if due:
        async with transaction(sessions) as writer:
            fresh_release = await writer.get(Release, release.id)
            fresh_location = await writer.get(Location, location.id)
            assert fresh_release is not None and fresh_location is not None
            await let_in(writer, fresh_location, fresh_release, now)
    async with reading(sessions) as db:
        moved = await db.get(QueuePlace, place_id)
        assert moved is not None
        if moved.status != WAITING:
            return PlaceView(moved, release, location, 0, None)
        ahead = await waiting_ahead(db, moved)
        given = turns_given(release, now)
        until_release = max(0.0, (release.release_at - now).total_seconds())
        wait = until_release + (await rank(db, moved) - given) * 60 / release.admit_per_minute
        return PlaceView(moved, release, location, ahead, max(0, int(wait)))


async def spend(db: AsyncSession, settings: Settings, *, location: Location, token: str | None) -> None:
    """The location's waiting room lets this request through once (nothing to do without one)."""
    release = await current_release(db, location.id)
    if release is None:
        return
    if not token:
        raise Forbidden("wait for your turn in the waiting room first", code="admission_required")
    place = await db.get(QueuePlace, _read(settings, ADMISSION_LINK, token, release.admission_seconds))
    if place is None or place.release_id != release.id:
        raise Forbidden("this admission is not valid here", code="link_invalid")
    if await spend_admission(db, place.id):
        return
    if place.status == USED:
        raise Conflict("this admission has already been used", code="admission_used")
    if place.status == SOLD_OUT:
        raise Gone("the released seats are all taken", code="sold_out")
    raise Gone("this admission has expired", code="admission_expired")
