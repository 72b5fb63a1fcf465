"""Waitlists: recipients waiting for a seat at a location, and the seats offered to them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from domain.scheduling import EntryStatus, OfferStatus
from records.db import Base, UTCDateTime, utcnow

# Waiting or holding an offer: on the list (the statuses ACTIVE_ENTRY in activities/waitlist.py names).
ACTIVE_WHERE = text("status IN ('waiting', 'offered')")


class WaitlistEntry(Base):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index("ix_waitlist_entries_scope", "location_id", "product_code", "status"),
        # One place in a line per person, location and product, even for two joins at once.
        Index(
            "uq_waitlist_entries_active",
            "location_id",
            "recipient_id",
            "product_code",
            unique=True,
            sqlite_where=ACTIVE_WHERE,
            postgresql_where=ACTIVE_WHERE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    # Days in the location's time zone, both included.
    earliest_date: Mapped[date] = mapped_column(Date)
    latest_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=EntryStatus.waiting.value)
    added_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WaitlistOffer(Base):
    __tablename__ = "waitlist_offers"
    # A seat of a slot is offered to an entry at most once.
    __table_args__ = (UniqueConstraint("entry_id", "slot_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    hold_id: Mapped[int] = mapped_column(ForeignKey("seat_holds.id"))
    status: Mapped[str] = mapped_column(String(20), default=OfferStatus.pending.value, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    appointment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
