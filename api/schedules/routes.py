"""Schedules as data (read by everyone, versioned by programme administrators, with a preview of
whom a change moves), the conditions recorded on a recipient, and a recipient's next doses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import Admin, Documenter, Reader, RecordId, SessionDep, SettingsDep
from api.schedules.schemas import (
    ConditionIn,
    ConditionOut,
    NextDoseOut,
    PreviewOut,
    ScheduleEdit,
    ScheduleOut,
)
from domain.dose_rules import to_local
from records.db import utcnow
from services import schedules as service

router = APIRouter(tags=["schedules"])

ScheduleCode = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z0-9-]+$")]


@router.get("/schedules", response_model=list[ScheduleOut])
async def list_schedules(actor: Reader, db: SessionDep) -> list[ScheduleOut]:
    """The newest version of every schedule."""
    return [ScheduleOut.model_validate(row) for row in await service.current(db)]


@router.get("/schedules/{schedule_code}/versions", response_model=list[ScheduleOut])
async def schedule_versions(schedule_code: ScheduleCode, actor: Reader, db: SessionDep) -> list[ScheduleOut]:
    return [ScheduleOut.model_validate(row) for row in await service.versions(db, schedule_code)]


@router.post("/schedules/{schedule_code}/versions", response_model=ScheduleOut, status_code=201)
async def add_schedule_version(
    schedule_code: ScheduleCode, body: ScheduleEdit, admin: Admin, db: SessionDep
) -> ScheduleOut:
    """A new version of the schedule (programme administrators): doses already given keep the
    version they were given under; the next dose of every series on it follows the new one."""
    row = await service.add_version(
        db, code=schedule_code, body=body.schedule, reason=body.reason, actor=admin.actor
    )
    return ScheduleOut.model_validate(row)


@router.post("/schedules/{schedule_code}/preview", response_model=list[PreviewOut])
async def preview_schedule_version(
    schedule_code: ScheduleCode, body: ScheduleEdit, admin: Admin, db: SessionDep, settings: SettingsDep
) -> list[PreviewOut]:
    """Whose next dose the edit would move, before and after (nothing is saved)."""
    rows = await service.preview(db, settings, code=schedule_code, body=body.schedule)
    return [PreviewOut.model_validate(row) for row in rows]


@router.get("/recipients/{recipient_id}/next-doses", response_model=list[NextDoseOut])
async def next_doses(
    recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> list[NextDoseOut]:
    """Each vaccine family's next dose for the recipient: which, from when, under which rule."""
    today = to_local(utcnow(), actor.location.time_zone).date()
    return [
        NextDoseOut.model_validate(n) for n in await service.next_doses(db, settings, recipient_id, today)
    ]


@router.get("/recipients/{recipient_id}/conditions", response_model=list[ConditionOut])
async def list_conditions(recipient_id: RecordId, actor: Reader, db: SessionDep) -> list[ConditionOut]:
    return [ConditionOut.model_validate(c) for c in await service.conditions_of(db, recipient_id)]


@router.post("/recipients/{recipient_id}/conditions", response_model=ConditionOut, status_code=201)
async def record_condition(
    recipient_id: RecordId, body: ConditionIn, actor: Documenter, db: SessionDep
) -> ConditionOut:
    """Records a condition that changes the recipient's schedule (who and when are kept)."""
    row = await service.record_condition(
        db,
        recipient_id=recipient_id,
        condition=body.condition,
        actor=actor.actor,
        location_id=actor.location.id,
    )
    return ConditionOut.model_validate(row)


@router.delete("/recipients/{recipient_id}/conditions/{condition}", status_code=204)
async def remove_condition(
    recipient_id: RecordId,
    condition: Annotated[str, Path(max_length=40)],
    actor: Documenter,
    db: SessionDep,
    reason: Annotated[str, Query(min_length=3, max_length=2000)],
) -> Response:
    await service.remove_condition(
        db,
        recipient_id=recipient_id,
        condition=condition,
        actor=actor.actor,
        location_id=actor.location.id,
        reason=reason,
    )
    return Response(status_code=204)
