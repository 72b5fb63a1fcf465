"""Schedules as data through the API: read them, add a version (audited; given doses keep theirs),
preview what a change moves for whom; record the conditions that change a recipient's schedule; and
what each family's next dose is for a recipient."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Conflict, Invalid, NotFound
from domain.schedules import CONDITIONS, Due, Schedule, next_due, schedule_from_dict
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.journeys import Dose
from records.products import Product
from records.recipients import Recipient
from records.schedules import (
    RecipientCondition,
    ScheduleVersion,
    active_conditions,
    all_schedules,
    family_history,
    next_version,
    schedule_versions,
)
from services.series_plans import next_dues


@dataclass(frozen=True)
class NextDose:
    family: str
    schedule: str
    schedule_version: int
    kind: str
    dose_number: int
    products: list[str]
    earliest: datetime | None
    recommended_latest: datetime | None
    rule: str


@dataclass(frozen=True)
class PreviewRow:
    recipient_id: int
    family: str
    before: NextDose | None
    after: NextDose | None


def _next(due: Due | None) -> NextDose | None:
    if due is None:
        return None
    return NextDose(
        due.schedule.family,
        due.schedule.code,
        due.schedule.version,
        due.kind,
        due.dose_number,
        list(due.products),
        due.earliest,
        due.recommended_latest,
        due.rule,
    )


async def versions(db: AsyncSession, code: str) -> list[ScheduleVersion]:
    rows = await schedule_versions(db, code)
    if not rows:
        raise NotFound(f"no schedule {code!r}", code="unknown_schedule")
    return rows


async def current(db: AsyncSession) -> list[ScheduleVersion]:
    """The newest version of every schedule."""
    rows = (
        await db.execute(select(ScheduleVersion).order_by(ScheduleVersion.code, ScheduleVersion.version))
    ).scalars()
    best: dict[str, ScheduleVersion] = {}
    for row in rows:
        best[row.code] = row
    return list(best.values())


async def _proposed(db: AsyncSession, code: str, body: dict[str, Any]) -> Schedule:
    """The edit as the next version of ``code``; refuses (422) what is not a schedule."""
    earlier = await versions(db, code)
    try:
        schedule = schedule_from_dict({**body, "code": code, "version": await next_version(db, code)})
    except ValueError as error:
        raise Invalid(str(error), code="invalid_schedule") from None
    known = set(
        (await db.execute(select(Product.code).where(Product.code.in_(schedule.products())))).scalars()
    )
    if unknown := sorted(schedule.products() - known):
        raise Invalid(f"unknown products {unknown}", code="invalid_schedule", unknown_products=unknown)
    if schedule.family != earlier[-1].family:
        raise Invalid("a schedule keeps its family", code="invalid_schedule", family=earlier[-1].family)
    return schedule


async def add_version(
    db: AsyncSession, *, code: str, body: dict[str, Any], reason: str, actor: str
) -> ScheduleVersion:
    """A new version of a schedule: later doses follow it, doses already given keep theirs."""
    schedule = await _proposed(db, code, body)
    before = (await versions(db, code))[-1]
    if replace(schedule, version=before.version) == before.schedule():
        raise Conflict("the schedule is unchanged", code="schedule_unchanged")
    row = ScheduleVersion.of(schedule, actor, reason)
    db.add(row)
    await db.flush()
    audit(
        db,
        actor=actor,
        entity="schedule",
        entity_id=f"{code}@{schedule.version}",
        action="new_version",
        changes={"version": [before.version, schedule.version]},
        reason=reason,
    )
    return row


async def preview(
    db: AsyncSession, settings: Settings, *, code: str, body: dict[str, Any], limit: int = 200
) -> list[PreviewRow]:
    """Whose next dose the edit would move (recipients with doses under this schedule), and how."""
    schedule = await _proposed(db, code, body)
    family = [s for s in await all_schedules(db, schedule.family)]
    people = (
        await db.execute(select(Dose.recipient_id).where(Dose.schedule_code == code).distinct().limit(limit))
    ).scalars()
    rows = []
    for recipient_id in people:
        before, after = await _due_pair(db, settings, recipient_id, family, schedule)
        if before != after:
            rows.append(PreviewRow(recipient_id, schedule.family, before, after))
    return rows


async def _due_pair(
    db: AsyncSession, settings: Settings, recipient_id: int, family: list[Schedule], proposed: Schedule
) -> tuple[NextDose | None, NextDose | None]:
    recipient = await db.get(Recipient, recipient_id)
    assert recipient is not None
    history = await family_history(db, recipient_id, family)
    conditions = [c.condition for c in await active_conditions(db, recipient_id)]
    kwargs: dict[str, Any] = {
        "birth": recipient.date_of_birth,
        "conditions": conditions,
        "day_seconds": settings.day_seconds,
    }
    before = next_due(family, history, **kwargs)
    after = next_due([*family, proposed], history, **kwargs)
    plain = [replace(n, schedule_version=0) if n else None for n in (_next(before), _next(after))]
    return (_next(before), _next(after)) if plain[0] != plain[1] else (None, None)


async def next_doses(db: AsyncSession, settings: Settings, recipient_id: int, on: date) -> list[NextDose]:
    """Each family's next dose for the recipient (a first dose where their age band has one)."""
    return [n for due in await next_dues(db, settings, recipient_id, on) if (n := _next(due)) is not None]


# --------------------------------------------------------------------------- conditions


async def record_condition(
    db: AsyncSession, *, recipient_id: int, condition: str, actor: str, location_id: int | None
) -> RecipientCondition:
    """Records a condition (again: the one already recorded, nothing changes)."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    if condition not in CONDITIONS:
        raise Invalid(f"unknown condition {condition!r}", code="unknown_condition", known=list(CONDITIONS))
    for row in await active_conditions(db, recipient_id):
        if row.condition == condition:
            return row
    row = RecipientCondition(recipient_id=recipient_id, condition=condition, recorded_by=actor)
    db.add(row)
    await db.flush()
    audit(
        db,
        actor=actor,
        location_id=location_id,
        entity="recipient",
        entity_id=recipient_id,
        action="record_condition",
        changes={"condition": [None, condition]},
    )
    return row


async def remove_condition(
    db: AsyncSession, *, recipient_id: int, condition: str, actor: str, location_id: int | None, reason: str
) -> None:
    for row in await active_conditions(db, recipient_id):
        if row.condition == condition:
            row.removed_at, row.removed_by = utcnow(), actor
            audit(
                db,
                actor=actor,
                location_id=location_id,
                entity="recipient",
                entity_id=recipient_id,
                action="remove_condition",
                changes={"condition": [condition, None]},
                reason=reason,
            )
            return
    raise NotFound(f"the recipient has no condition {condition!r} recorded", code="no_such_condition")


async def conditions_of(db: AsyncSession, recipient_id: int) -> list[RecipientCondition]:
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    return await active_conditions(db, recipient_id)
