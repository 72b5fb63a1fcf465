"""Who may see the schedules pages: a location manager (at their active location) or a programme
administrator; only an administrator proposes and saves a version (DESIGN: programme-wide rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.deps import ADMIN_ONLY, Actor, CurrentUserDep, Require, SessionDep
from api.errors import Forbidden
from api.permissions import Permission

MANAGERS_ONLY = "only a location manager or a programme administrator may see the schedules"
manager_at_active_location = Require(Permission.manage)
member_at_active_location = Require(Permission.read)


@dataclass(frozen=True)
class ScheduleViewer:
    actor: Actor | None  # the viewer at their active location (None: an administrator without one)
    audit_actor: str  # who the audit row names (as the JSON route does)
    is_admin: bool


async def schedule_viewer(current: CurrentUserDep, db: SessionDep) -> ScheduleViewer:
    if not current.user.is_admin:
        try:
            manager = await manager_at_active_location(current, db)
        except Forbidden as refused:
            raise Forbidden(MANAGERS_ONLY, code="managers_only") from refused
        return ScheduleViewer(manager, current.actor, False)
    actor: Actor | None
    try:  # an administrator who also works at a location keeps the portal's navigation
        actor = await member_at_active_location(current, db)
    except Forbidden:
        actor = None
    return ScheduleViewer(actor, current.actor, True)


def must_edit(viewer: ScheduleViewer) -> None:
    """Only a programme administrator proposes or saves a version (403 ``admin_only``)."""
    if not viewer.is_admin:
        raise Forbidden(ADMIN_ONLY, code="admin_only")


async def schedule_editor(viewer: Annotated[ScheduleViewer, Depends(schedule_viewer)]) -> ScheduleViewer:
    must_edit(viewer)
    return viewer


ViewerDep = Annotated[ScheduleViewer, Depends(schedule_viewer)]
EditorDep = Annotated[ScheduleViewer, Depends(schedule_editor)]
