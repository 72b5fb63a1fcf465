"""Dose series (one row per journey workflow) and the doses documented in them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.journey_messages import JourneyStatus
from records.db import Base, UTCDateTime, utcnow


class Journey(Base):
    """The record side of a journey workflow: lets lists and "which series is current" read the database."""

    __tablename__ = "journeys"
    __table_args__ = (UniqueConstraint("recipient_id", "series_no"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    series_no: Mapped[int] = mapped_column(Integer)
    product_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    product_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=JourneyStatus.active.value)
    # The vaccine family (a recipient has a series of each at once) and, for a series that follows
    # a schedule, the rule it runs with (doses, intervals, schedule version: records.schedules).
    family: Mapped[str | None] = mapped_column(String(40), nullable=True)
    series_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Dose(Base):
    __tablename__ = "doses"
    __table_args__ = (
        UniqueConstraint("journey_id", "idempotency_key"),
        # Covering the dashboard's doses per day (one location) and the programme report (every
        # location): the count reads the index alone; only the recipient is looked up.
        Index(
            "ix_doses_location_given", "location_id", "given_at", "removed", "product_code", "recipient_id"
        ),
        Index("ix_doses_given", "given_at", "removed", "location_id", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[str] = mapped_column(ForeignKey("journeys.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), nullable=True)
    dose_number: Mapped[int] = mapped_column(Integer)
    product_code: Mapped[str] = mapped_column(String(40))
    product_version: Mapped[int] = mapped_column(Integer)
    lot_number: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date] = mapped_column(Date)
    injection_site: Mapped[str] = mapped_column(String(40))
    route: Mapped[str] = mapped_column(String(40))
    administered_by: Mapped[str] = mapped_column(String(200))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The schedule version the dose was given under, primary or booster, and its number in the family.
    schedule_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    schedule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    series_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    family_dose_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set when the dose was given within the grace period before its earliest date.
    warning: Mapped[str | None] = mapped_column(Text, nullable=True)
    documented_by: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
