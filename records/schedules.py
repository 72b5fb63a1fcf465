"""Schedules (versioned, as data) and the conditions recorded on recipients that change them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.dose_rules import ProductRule
from domain.schedule_defaults import DEFAULT_SCHEDULES
from domain.schedules import (
    PRIMARY,
    GivenDose,
    Schedule,
    family_of,
    newest,
    next_due,
    schedule_as_dict,
    schedule_from_dict,
)
from records.db import Base, UTCDateTime, utcnow


class ScheduleVersion(Base):
    """One version of a schedule; an edit adds a version, a given dose keeps the one it was given under."""

    __tablename__ = "schedule_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), index=True)
    version: Mapped[int] = mapped_column(Integer)
    family: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    def schedule(self) -> Schedule:
        return schedule_from_dict(self.body)

    @classmethod
    def of(cls, schedule: Schedule, actor: str = "system", reason: str | None = None) -> ScheduleVersion:
        return cls(
            code=schedule.code,
            version=schedule.version,
            family=schedule.family,
            name=schedule.name,
            body=schedule_as_dict(schedule),
            created_by=actor,
            reason=reason,
        )


class RecipientCondition(Base):
    """A condition that changes a recipient's schedule (e.g. immunocompromised): who recorded it, when."""

    __tablename__ = "recipient_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"), index=True)
    condition: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


async def seed_schedules(db: AsyncSession) -> bool:
    """Adds the default schedules (version 1) that are not there yet."""
    existing = set((await db.execute(select(ScheduleVersion.code, ScheduleVersion.version))).all())
    missing = [s for s in DEFAULT_SCHEDULES if (s.code, s.version) not in existing]
    for schedule in missing:
        db.add(ScheduleVersion.of(schedule))
    return bool(missing)


async def all_schedules(db: AsyncSession, family: str | None = None) -> list[Schedule]:
    """Every version of every schedule (of one family), oldest first."""
    query = select(ScheduleVersion).order_by(ScheduleVersion.code, ScheduleVersion.version)
    if family is not None:
        query = query.where(ScheduleVersion.family == family)
    return [row.schedule() for row in (await db.execute(query)).scalars()]


async def schedule_versions(db: AsyncSession, code: str) -> list[ScheduleVersion]:
    rows = await db.execute(
        select(ScheduleVersion).where(ScheduleVersion.code == code).order_by(ScheduleVersion.version)
    )
    return list(rows.scalars())


async def next_version(db: AsyncSession, code: str) -> int:
    top = (
        await db.execute(select(func.max(ScheduleVersion.version)).where(ScheduleVersion.code == code))
    ).scalar()
    return (top or 0) + 1


async def scheduled_products(db: AsyncSession) -> set[str]:
    """Every product some schedule names."""
    return {p for schedule in newest(await all_schedules(db)).values() for p in schedule.products()}


async def product_family(db: AsyncSession, product_code: str) -> str | None:
    return family_of(await all_schedules(db), product_code)


async def active_conditions(db: AsyncSession, recipient_id: int) -> list[RecipientCondition]:
    rows = await db.execute(
        select(RecipientCondition)
        .where(RecipientCondition.recipient_id == recipient_id, RecipientCondition.removed_at.is_(None))
        .order_by(RecipientCondition.id)
    )
    return list(rows.scalars())


async def family_history(db: AsyncSession, recipient_id: int, schedules: list[Schedule]) -> list[GivenDose]:
    """The recipient's doses (not removed) of the products of ``schedules``' family, as given: each
    with the schedule version it was given under (a dose from before schedules were data counts as
    a primary dose of the schedule its product starts)."""
    from records.journeys import Dose

    products = {p for s in schedules for p in s.products()}
    rows = await db.execute(
        select(Dose)
        .where(Dose.recipient_id == recipient_id, Dose.removed.is_(False), Dose.product_code.in_(products))
        .order_by(Dose.given_at, Dose.id)
    )
    given: list[GivenDose] = []
    for dose in rows.scalars():
        code, version = dose.schedule_code, dose.schedule_version
        if code is None:
            start = given[0].product if given else dose.product_code
            first = next((s for s in schedules if start in s.primary[0].products), schedules[0])
            code, version = first.code, 1
        given.append(
            GivenDose(dose.product_code, dose.given_at, code, version or 1, dose.series_kind or PRIMARY)
        )
    return given


def rule_as_json(rule: ProductRule) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(rule)


def rule_from_json(data: dict[str, Any]) -> ProductRule:
    return ProductRule(**{**data, "intervals": tuple(data.get("intervals", ()))})


async def next_series_dose(db: AsyncSession, journey_id: str) -> dict[str, Any] | None:
    """What the "next dose due" email of a complete series says (its name, products, number, from
    when); None when the family went on meanwhile (a later series) or its schedule offers nothing."""
    from records.journeys import Journey
    from records.products import Product
    from records.recipients import Recipient

    journey = await db.get(Journey, journey_id)
    recipient = await db.get(Recipient, journey.recipient_id) if journey is not None else None
    if journey is None or recipient is None or journey.family is None:
        return None
    later = await db.execute(
        select(Journey.id).where(
            Journey.recipient_id == journey.recipient_id,
            Journey.family == journey.family,
            Journey.series_no > journey.series_no,
        )
    )
    if later.first() is not None:
        return None
    schedules = await all_schedules(db, journey.family)
    conditions = [c.condition for c in await active_conditions(db, journey.recipient_id)]
    due = next_due(
        schedules,
        await family_history(db, journey.recipient_id, schedules),
        birth=recipient.date_of_birth,
        conditions=conditions,
    )
    if due is None or due.earliest is None:
        return None
    names = dict(
        (await db.execute(select(Product.code, Product.name).where(Product.code.in_(due.products)))).all()
    )
    return {
        "series_name": due.booster.name if due.booster else f"{due.schedule.name}, dose {due.dose_number}",
        "products": ", ".join(names.get(code, code) for code in due.products),
        "dose_number": due.dose_number,
    }
