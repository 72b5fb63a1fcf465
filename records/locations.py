"""Vaccination locations: users, slots and appointments belong to one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, false, true
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
    # The public "find a vaccine location" listing: shown only while published.
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # People book themselves from the finder (a manager's switch; needs scheduling_enabled too).
    self_scheduling: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    walk_ins: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # [{"weekday": 0 (Monday)..6, "opens": "08:00", "closes": "17:00"}, ...] in the location's time zone.
    opening_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
