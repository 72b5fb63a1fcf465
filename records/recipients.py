"""Recipients: shared across locations (dose 1 here, dose 2 there is normal)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.places import county_of_zip
from domain.recipients import EDITABLE, fold, phone_digits
from records.audit import audit, diff
from records.db import Base, UTCDateTime, utcnow

__all__ = ["Recipient", "add_recipient", "find_possible_duplicates", "fold", "phone_digits", "snapshot"]


class Recipient(Base):
    __tablename__ = "recipients"
    __table_args__ = (
        # Name searches always carry the date of birth, which is the selective part.
        Index("ix_recipients_birth_last_key", "date_of_birth", "last_key"),
        Index("ix_recipients_last_key", "last_key"),
        Index("ix_recipients_first_key", "first_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(20))
    address_line: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    preferred_language: Mapped[str] = mapped_column(String(2), default="en")
    race: Mapped[str | None] = mapped_column(String(80), nullable=True)
    ethnicity: Mapped[str | None] = mapped_column(String(80), nullable=True)

    # Folded copies kept in step with the names, so search can use an index.
    first_key: Mapped[str] = mapped_column(String(100))
    last_key: Mapped[str] = mapped_column(String(100))
    phone_key: Mapped[str] = mapped_column(String(20), index=True, default="")
    email_key: Mapped[str] = mapped_column(String(254), index=True, default="")
    # "Durham County, NC", from the ZIP code (the programme report counts doses by county).
    county: Mapped[str | None] = mapped_column(String(80), nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def refresh_search_keys(self) -> None:
        self.first_key = fold(self.first_name)
        self.last_key = fold(self.last_name)
        self.phone_key = phone_digits(self.phone or "")
        self.email_key = (self.email or "").strip().casefold()
        self.county = county_of_zip(self.postal_code or "")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)


def snapshot(recipient: Recipient) -> dict[str, object]:
    return {name: getattr(recipient, name) for name in EDITABLE}


async def find_possible_duplicates(
    db: AsyncSession, first_name: str, last_name: str, date_of_birth: date
) -> list[Recipient]:
    rows = await db.execute(
        select(Recipient).where(
            Recipient.first_key == fold(first_name),
            Recipient.last_key == fold(last_name),
            Recipient.date_of_birth == date_of_birth,
        )
    )
    return list(rows.scalars())


async def add_recipient(
    db: AsyncSession,
    fields: dict[str, Any],
    *,
    created_by: int | None,
    actor: str,
    location_id: int,
    reason: str | None = None,
) -> Recipient:
    """Adds a recipient and its "register" audit entry (a registration and an uploaded row alike)."""
    recipient = Recipient(**fields, created_by=created_by)
    recipient.refresh_search_keys()
    db.add(recipient)
    await db.flush()
    audit(
        db,
        actor=actor,
        location_id=location_id,
        entity="recipient",
        entity_id=recipient.id,
        action="register",
        changes=diff({}, snapshot(recipient)),
        reason=reason,
    )
    return recipient
