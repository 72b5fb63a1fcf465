"""Recipients: shared across locations (dose 1 here, dose 2 there is normal)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


def fold(text: str) -> str:
    """Case- and accent-insensitive search key: 'Peña ' -> 'pena'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def phone_digits(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    # US numbers are stored without the country code so "+1 (919)…" finds "919…".
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


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

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def refresh_search_keys(self) -> None:
        self.first_key = fold(self.first_name)
        self.last_key = fold(self.last_name)
        self.phone_key = phone_digits(self.phone or "")
        self.email_key = (self.email or "").strip().casefold()

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)
