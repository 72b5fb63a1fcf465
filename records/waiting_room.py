"""The waiting room of a release: a location's seats open at a set time, and arrivals (before or
after it) wait in a first-come queue and are let in at the manager's rate.

Everything is rows and conditional UPDATEs, so the queue survives a restart of any process and
any number of API replicas agree: a place's turn is its rank by arrival (the row id within the
release); by `now` the first floor((now - release_at) * rate) places have had their turn. Letting a
place in (waiting -> admitted, with an expiry) and spending the admission (admitted -> used) are
each one conditional UPDATE, so an admission works once and only before it expires.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

WAITING = "waiting"
ADMITTED = "admitted"
USED = "used"
SOLD_OUT = "sold_out"  # its turn came after the released seats were gone: offered the waitlist


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


async def rank(db: AsyncSession, place: QueuePlace) -> int:
    """1 for the first arrival of the release, 2 for the second, ..."""
    count = await db.scalar(
        select(func.count())
        .select_from(QueuePlace)
        .where(QueuePlace.release_id == place.release_id, QueuePlace.id <= place.id)
    )
    return int(count or 0)


async def waiting_ahead(db: AsyncSession, place: QueuePlace) -> int:
    """Places that arrived earlier and still wait for their turn."""
    count = await db.scalar(
        select(func.count())
        .select_from(QueuePlace)
        .where(
            QueuePlace.release_id == place.release_id,
            QueuePlace.status == WAITING,
            QueuePlace.id < place.id,
        )
    )
    return int(count or 0)


async def admit(db: AsyncSession, place_id: int, expires_at: datetime) -> bool:
    moved = await db.execute(
        update(QueuePlace)
        .where(QueuePlace.id == place_id, QueuePlace.status == WAITING)
        .values(status=ADMITTED, admitted_at=utcnow(), admission_expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def sold_out(db: AsyncSession, place_id: int) -> None:
    await db.execute(
        update(QueuePlace)
        .where(QueuePlace.id == place_id, QueuePlace.status == WAITING)
        .values(status=SOLD_OUT)
        .execution_options(synchronize_session=False)
    )


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
