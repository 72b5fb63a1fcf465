"""What a person in a waiting room sees, answered from a picture of the room each API process
keeps, so a crowd looking at its places every few seconds does not query the database per look.

A process takes a new picture of a release at most every CVMS_WAITING_ROOM_REFRESH_SECONDS: under
the release row's lock it first lets in the people whose turn has come (services/waiting_room.py
`let_in`, the same rule whichever process runs it), then reads the line (the ids still waiting, in
arrival order), the places let in with their admissions' expiry, the latest arrival and the seats.
A waiting place's position is then a binary search in that line, a place that joined since the
picture waits at its end, and one let in is answered from its expiry; only a place that is
through (it held a seat) is read from its row. The picture is at most that many seconds old (in
a process that let nobody in itself, a turn shows up to one refresh late); the rows stay the
truth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import NotFound
from domain.settings import Settings
from records.db import reading, transaction, utcnow
from records.locations import Location
from records.waiting_room import (
    ADMITTED,
    SOLD_OUT,
    USED,
    WAITING,
    QueuePlace,
    admissions,
    line,
    newest_place,
    room_lock,
)
from services.waiting_room import PLACE_LINK, PLACE_MAX_AGE, Seats, let_in, read_token, turns_given

log = logging.getLogger(__name__)

# What a place can show: WAITING (its turn has not come), ADMITTED (it may choose a time now),
# USED (it chose one), EXPIRED (its admission ran out unused), SOLD_OUT (the released seats are
# gone: the waitlist is offered).
EXPIRED = "expired"

# A page asks again after a fifth of its estimated wait, between these bounds: a crowd far back
# asks rarely, the people near the front often.
CHECK_AGAIN_MIN_SECONDS = 3
CHECK_AGAIN_MAX_SECONDS = 60


def check_again_seconds(wait_seconds: int | None) -> int:
    if wait_seconds is None:
        return CHECK_AGAIN_MIN_SECONDS
    return int(min(CHECK_AGAIN_MAX_SECONDS, max(CHECK_AGAIN_MIN_SECONDS, wait_seconds / 5)))


@dataclass(frozen=True)
class RoomLocation:
    """The location as the waiting room's pages show it."""

    id: int
    code: str
    name: str
    time_zone: str
    phone: str


@dataclass(frozen=True)
class RoomPicture:
    release_id: int
    release_at: datetime
    admit_per_minute: int
    location: RoomLocation
    waiting: list[int]  # place ids still waiting, in arrival order
    seats: Seats
    admitted: dict[int, datetime] = field(default_factory=dict)  # let in, not yet through: expiry
    newest: int = 0  # the latest arrival's id: a place after it joined since, and waits at the end
    taken: float = field(default_factory=time.monotonic)

    def ahead_of(self, place_id: int) -> int:
        """Places that arrived earlier and still wait (a place joined since the picture is last)."""
        return bisect_left(self.waiting, place_id)

    def is_waiting(self, place_id: int) -> bool:
        at = self.ahead_of(place_id)
        return at < len(self.waiting) and self.waiting[at] == place_id

    def wait_seconds(self, ahead: int, now: datetime) -> int:
        """About how long until the turn of a place with `ahead` people before it: the turns still
        to come at the manager's rate, from the release time or the next turn after now."""
        every = 60 / self.admit_per_minute
        if now < self.release_at:
            return int((self.release_at - now).total_seconds() + ahead * every)
        given = turns_given(self, now)
        elapsed = (now - self.release_at).total_seconds()
        until_next = (given + 1) * every - elapsed
        return max(0, int(until_next + ahead * every))


@dataclass(frozen=True)
class PlaceView:
    place_id: int
    status: str  # waiting, admitted, used, expired, sold_out
    location: RoomLocation
    ahead: int = 0
    wait_seconds: int | None = None  # only while waiting
    admission_expires_at: datetime | None = None  # only once admitted

    @property
    def check_again_seconds(self) -> int:
        return check_again_seconds(self.wait_seconds)


async def take_picture(db: AsyncSession, release_id: int, now: datetime) -> RoomPicture:
    """Lets in whoever's turn has come, then reads the line; in the caller's transaction."""
    release = await room_lock(db, release_id)
    if release is None:
        raise NotFound("no such waiting room")
    location = await db.get(Location, release.location_id)
    assert location is not None
    seats = await let_in(db, location, release, now)
    return RoomPicture(
        release_id=release.id,
        release_at=release.release_at,
        admit_per_minute=release.admit_per_minute,
        location=RoomLocation(
            id=location.id,
            code=location.code,
            name=location.name,
            time_zone=location.time_zone,
            phone=location.phone,
        ),
        waiting=await line(db, release.id),
        seats=seats,
        admitted=await admissions(db, release.id),
        newest=await newest_place(db, release.id),
    )


class Rooms:
    """This process's pictures, one per release. A picture older than the refresh interval is
    still answered from while one background task takes the next (a look never waits on the
    database's lock); only the first look at a release, or every look when the interval is 0,
    waits for a picture to be taken."""

    def __init__(self) -> None:
        self.pictures: dict[int, RoomPicture] = {}
        self.locks: dict[int, asyncio.Lock] = {}
        self.refreshing: dict[int, asyncio.Task[None]] = {}

    async def picture(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, release_id: int
    ) -> RoomPicture:
        kept = self.pictures.get(release_id)
        interval = settings.waiting_room_refresh_seconds
        if kept is not None and interval > 0:
            if time.monotonic() - kept.taken >= interval and release_id not in self.refreshing:
                task = asyncio.create_task(self._refresh(sessions, release_id))
                self.refreshing[release_id] = task
                task.add_done_callback(lambda _done: self.refreshing.pop(release_id, None))
            return kept
        async with self.locks.setdefault(release_id, asyncio.Lock()):
            kept = self.pictures.get(release_id)
            if kept is not None and interval > 0:  # taken by the look this one waited for
                return kept
            return await self._take(sessions, release_id)

    async def _take(self, sessions: async_sessionmaker[AsyncSession], release_id: int) -> RoomPicture:
        async with transaction(sessions) as db:
            taken = await take_picture(db, release_id, utcnow())
        self.pictures[release_id] = taken
        return taken

    async def _refresh(self, sessions: async_sessionmaker[AsyncSession], release_id: int) -> None:
        try:
            await self._take(sessions, release_id)
        except Exception:  # the old picture stays; the next look tries again
            log.exception("could not take a new picture of waiting room %s", release_id)


rooms = Rooms()


async def look(sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str) -> PlaceView:
    """Where a place stands. A place in the picture's line is answered from the picture alone,
    and so is a place let in (its admission's expiry is in the picture too)."""
    read = read_token(settings, PLACE_LINK, token, PLACE_MAX_AGE)
    place_id = read["q"]
    release_id = read.get("r")
    if release_id is None:  # an address given before places carried their release
        async with reading(sessions) as db:
            old = await db.get(QueuePlace, place_id)
        if old is None:
            raise NotFound("no such place in the queue")
        release_id = old.release_id
    picture = await rooms.picture(sessions, settings, release_id)
    now = utcnow()
    if picture.is_waiting(place_id) or place_id > picture.newest:
        return waiting_view(picture, place_id, now)
    if place_id in picture.admitted:  # let in: choosing a time, or its time ran out
        return admitted_view(picture, place_id, picture.admitted[place_id], now)
    # Through (a seat held): its row says so.
    async with reading(sessions) as db:
        place = await db.get(QueuePlace, place_id)
    if place is None or place.release_id != release_id:
        raise NotFound("no such place in the queue")
    if place.status == WAITING:  # joined since the picture: last in its line
        return waiting_view(picture, place_id, now)
    if place.status == ADMITTED and place.admission_expires_at is not None:
        return admitted_view(picture, place_id, place.admission_expires_at, now)
    return PlaceView(place_id, USED if place.status == USED else SOLD_OUT, picture.location)


def admitted_view(picture: RoomPicture, place_id: int, expires: datetime, now: datetime) -> PlaceView:
    status = ADMITTED if expires > now else EXPIRED
    return PlaceView(place_id, status, picture.location, admission_expires_at=expires)


def waiting_view(picture: RoomPicture, place_id: int, now: datetime) -> PlaceView:
    if picture.seats.gone:
        return PlaceView(place_id, SOLD_OUT, picture.location)
    ahead = picture.ahead_of(place_id)
    return PlaceView(
        place_id, WAITING, picture.location, ahead=ahead, wait_seconds=picture.wait_seconds(ahead, now)
    )
