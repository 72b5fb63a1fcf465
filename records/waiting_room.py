"""The waiting room of a release: a location's seats open at a set time, and arrivals (before or
after it) wait in a first-come queue and are let in at the manager's rate.

Everything is rows and conditional UPDATEs, so the queue survives a restart of any process and
any number of API replicas agree: places are let in in arrival order (the row id within the
release), floor((now - release_at) * rate) turns by `now`, under the release row's lock. Letting a
place in (waiting -> admitted, with an expiry) and spending the admission (admitted -> used) are
each one conditional UPDATE, so an admission works once and only before it expires.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

WAITING = "waiting"
ADMITTED = "admitted"
USED = "used"
# "sold_out" was written by an earlier version (a turn after the seats were gone); no longer: the
# seats' being gone is a picture of the moment (services/waiting_room_views.py), not a state.
SOLD_OUT = "sold_out"


class Release(Base):
    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    release_at: Mapped[datetime] = mapped_column(UTCDateTime)
    admit_per_minute: Mapped[int] = mapped_column(Integer)
    admission_seconds: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueuePlace(Base):
    __tablename__ = "queue_places"
    __table_args__ = (
        UniqueConstraint("release_id", "browser_key"),
        UniqueConstraint("release_id", "email_key"),
        Index("ix_queue_places_release_status", "release_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    browser_key: Mapped[str] = mapped_column(String(64))
    email_key: Mapped[str | None] = mapped_column(String(254), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=WAITING)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    admission_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


async def current_release(db: AsyncSession, location_id: int) -> Release | None:
    """The location's latest release (its waiting room applies from the moment it is set)."""
    found = await db.execute(
        select(Release).where(Release.location_id == location_id).order_by(Release.id.desc()).limit(1)
    )
    return found.scalar_one_or_none()


async def room_lock(db: AsyncSession, release_id: int) -> Release | None:
    """The release row, locked until the transaction ends (PostgreSQL: SELECT ... FOR UPDATE;
    SQLite has one writer anyway), so one process at a time lets people in."""
    found = await db.execute(select(Release).where(Release.id == release_id).with_for_update())
    return found.scalar_one_or_none()


async def line(db: AsyncSession, release_id: int) -> list[int]:
    """The places still waiting, in arrival order."""
    found = await db.execute(
        select(QueuePlace.id)
        .where(QueuePlace.release_id == release_id, QueuePlace.status == WAITING)
        .order_by(QueuePlace.id)
    )
    return list(found.scalars().all())


async def newest_place(db: AsyncSession, release_id: int) -> int:
    """The id of the release's latest arrival (0 before the first)."""
    newest = await db.scalar(select(func.max(QueuePlace.id)).where(QueuePlace.release_id == release_id))
    return int(newest or 0)


async def admissions(db: AsyncSession, release_id: int) -> dict[int, datetime]:
    """The places let in and not yet through (their admission good or run out), with its expiry."""
    found = await db.execute(
        select(QueuePlace.id, QueuePlace.admission_expires_at).where(
            QueuePlace.release_id == release_id, QueuePlace.status == ADMITTED
        )
    )
    return {place_id: expires for place_id, expires in found.all() if expires is not None}


async def had_turn(db: AsyncSession, release_id: int) -> int:
    """Places that have been let in (whatever became of their admission)."""
    count = await db.scalar(
        select(func.count())
        .select_from(QueuePlace)
        .where(QueuePlace.release_id == release_id, QueuePlace.status != WAITING)
    )
    return int(count or 0)


async def choosing(db: AsyncSession, release_id: int, now: datetime) -> int:
    """Places let in whose admission is still good and not yet spent: each has a seat promised."""
    count = await db.scalar(
        select(func.count())
        .select_from(QueuePlace)
        .where(
            QueuePlace.release_id == release_id,
            QueuePlace.status == ADMITTED,
            QueuePlace.admission_expires_at > now,
        )
    )
    return int(count or 0)


async def places_by_status(db: AsyncSession, release_id: int, now: datetime) -> dict[str, int]:
    """How many places are in each state; an admission past its expiry counts as "expired"."""
    state = case(
        (
            (QueuePlace.status == ADMITTED) & (QueuePlace.admission_expires_at <= now),
            literal("expired"),
        ),
        else_=QueuePlace.status,
    )
    found = await db.execute(
        select(state, func.count()).where(QueuePlace.release_id == release_id).group_by(state)
    )
    return {str(status): int(count) for status, count in found.all()}


async def admit(db: AsyncSession, place_id: int, expires_at: datetime) -> bool:
    moved = await db.execute(
        update(QueuePlace)
        .where(QueuePlace.id == place_id, QueuePlace.status == WAITING)
        .values(status=ADMITTED, admitted_at=utcnow(), admission_expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def spend_admission(db: AsyncSession, place_id: int) -> bool:
    """admitted -> used, once, before the admission expires."""
    spent = await db.execute(
        update(QueuePlace)
        .where(
            QueuePlace.id == place_id,
            QueuePlace.status == ADMITTED,
            QueuePlace.admission_expires_at > utcnow(),
        )
        .values(status=USED)
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1  # type: ignore[attr-defined,no-any-return]
