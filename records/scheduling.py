"""Slots (published capacity at a location) and the appointments that claim their seats."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.scheduling import AppointmentStatus
from records.db import Base, UTCDateTime, utcnow
from records.free_seats import shift_free_seats


class Slot(Base):
    __tablename__ = "slots"
    __table_args__ = (Index("ix_slots_location_start", "location_id", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    # Seats set aside for a while (records/holds.py); they count against capacity like bookings.
    held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    product_code: Mapped[str] = mapped_column(String(40))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # The location's calendar day of start_at: the key of the finder's free-seat summary.
    local_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        # A retried booking (same idempotency key) finds the row it made instead of booking twice.
        UniqueConstraint("journey_id", "idempotency_key"),
        Index("ix_appointments_location_start", "location_id", "start_at"),
        # The dashboard's no-shows per week and booked demand read this index alone.
        Index("ix_appointments_location_start_status", "location_id", "start_at", "status", "product_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[str] = mapped_column(String(80), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    # Copied from the slot so day searches need no join and a reschedule keeps history in the audit log.
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    product_code: Mapped[str] = mapped_column(String(40))
    dose_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.booked.value, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # The calendar invite's SEQUENCE: grows with every reschedule and the cancellation.
    invite_sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    booked_by: Mapped[str] = mapped_column(String(80))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def invite_uid(self) -> str:
        return f"appointment-{self.id}@cvms"


async def claim_seat(db: AsyncSession, slot_id: int) -> bool:
    """Takes one seat of an open slot in a single conditional UPDATE; False when full or closed.

    Never read-then-write: the database decides, so concurrent bookings cannot exceed capacity.
    """
    result = await db.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked + Slot.held < Slot.capacity, Slot.is_open.is_(True))
        .values(booked=Slot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    await shift_free_seats(db, slot_id, -1)
    return True


async def release_seat(db: AsyncSession, slot_id: int) -> None:
    """Gives a seat back (cancel, reschedule); never below zero."""
    result = await db.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        await shift_free_seats(db, slot_id, +1)
