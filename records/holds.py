"""Seat holds: a seat set aside for a while (registration in progress, a waitlist offer).

A held seat counts against the slot's capacity like a booked one: `Slot.held`
moves in the same conditional UPDATEs as `Slot.booked`, so holds and bookings
together never exceed capacity. A hold ends exactly once: taken by a booking,
or released when its time is up (or by hand); each end is a conditional UPDATE
from "held", so a late timer and a booking cannot both win.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.scheduling import HoldPurpose, HoldStatus
from records.db import Base, UTCDateTime, utcnow
from records.free_seats import shift_free_seats
from records.scheduling import Slot


class SeatHold(Base):
    __tablename__ = "seat_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=HoldStatus.held.value)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    held_by: Mapped[str] = mapped_column(String(80))
    appointment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def hold_seat(
    db: AsyncSession, slot: Slot, *, purpose: HoldPurpose, expires_at: datetime, held_by: str
) -> SeatHold | None:
    """Sets one free seat of an open slot aside; None when none is free."""
    result = await db.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.booked + Slot.held < Slot.capacity, Slot.is_open.is_(True))
        .values(held=Slot.held + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    await shift_free_seats(db, slot.id, -1)
    hold = SeatHold(
        slot_id=slot.id,
        location_id=slot.location_id,
        purpose=purpose.value,
        expires_at=expires_at,
        held_by=held_by,
    )
    db.add(hold)
    await db.flush()
    return hold


async def take_held_seat(db: AsyncSession, hold_id: int, slot_id: int) -> bool:
    """Turns a live hold on this slot into a booked seat; False when it ended or ran out."""
    taken = await db.execute(
        update(SeatHold)
        .where(
            SeatHold.id == hold_id,
            SeatHold.slot_id == slot_id,
            SeatHold.status == HoldStatus.held.value,
            SeatHold.expires_at > utcnow(),
        )
        .values(status=HoldStatus.booked.value, ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return False
    await db.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(held=Slot.held - 1, booked=Slot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    return True


async def release_hold(db: AsyncSession, hold_id: int) -> bool:
    """Gives a held seat back; False when the hold had already ended (booked or released)."""
    hold = await db.get(SeatHold, hold_id)
    if hold is None:
        return False
    released = await db.execute(
        update(SeatHold)
        .where(SeatHold.id == hold_id, SeatHold.status == HoldStatus.held.value)
        .values(status=HoldStatus.released.value, ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if released.rowcount != 1:
        return False
    given_back = await db.execute(
        update(Slot)
        .where(Slot.id == hold.slot_id, Slot.held > 0)
        .values(held=Slot.held - 1)
        .execution_options(synchronize_session=False)
    )
    if given_back.rowcount == 1:  # type: ignore[attr-defined]
        await shift_free_seats(db, hold.slot_id, +1)
    return True
