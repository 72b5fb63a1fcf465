"""Self-registrations in progress: what a person typed in the public finder, kept until they prove
their email with the single-use code we sent, then booked once.

Every step is a conditional UPDATE from the status before it, so a code used twice, a guess past
the allowance, or two tabs confirming at once book nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

PENDING = "pending"  # the code is sent; waiting for it
VERIFIED = "verified"  # the code was right: booking under way (or refused; it can be tried again)
BOOKED = "booked"


class SelfRegistration(Base):
    __tablename__ = "self_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A booking holds a seat first; a waitlist registration (the seats were gone) has neither and
    # names the product it waits for instead.
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("seat_holds.id"), nullable=True)
    slot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    waitlist_product: Mapped[str | None] = mapped_column(String(40), nullable=True)
    waitlist_entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location_id: Mapped[int] = mapped_column(Integer)
    email_key: Mapped[str] = mapped_column(String(254), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    screening: Mapped[dict[str, str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(2))
    code_digest: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    appointment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    journey_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def count_guess(db: AsyncSession, registration_id: int, max_attempts: int) -> bool:
    """Counts one code attempt; False when the allowance is spent or the code is no longer pending."""
    counted = await db.execute(
        update(SelfRegistration)
        .where(
            SelfRegistration.id == registration_id,
            SelfRegistration.status == PENDING,
            SelfRegistration.attempts < max_attempts,
            SelfRegistration.expires_at > utcnow(),
        )
        .values(attempts=SelfRegistration.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return counted.rowcount == 1


async def spend_code(db: AsyncSession, registration_id: int) -> bool:
    """The right code, used once: pending -> verified; False when someone used it first."""
    spent = await db.execute(
        update(SelfRegistration)
        .where(SelfRegistration.id == registration_id, SelfRegistration.status == PENDING)
        .values(status=VERIFIED)
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1
