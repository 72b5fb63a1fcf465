"""Vaccination locations: users, slots and appointments belong to one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    scheduling_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The "provider PIN" a provider quotes when registering for a help-desk account.
    provider_pin: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(400), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
