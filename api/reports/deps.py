"""Who may see a report and of where: a location manager sees their active location; a
programme administrator sees every location together, or one of them by its code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from api.deps import Actor, CurrentUserDep, Require, SessionDep, SettingsDep
from api.errors import Forbidden, NotFound
from api.permissions import Permission
from records.locations import Location

MANAGERS_ONLY = "only a location manager or a programme administrator may see this report"
manager_at_active_location = Require(Permission.manage)
member_at_active_location = Require(Permission.read)


@dataclass(frozen=True)
class ReportScope:
    actor: Actor | None  # the viewer at their active location (None: an administrator without one)
    location: Location | None  # None: every location
    locations: list[Location]  # an administrator's choice of scope; empty for a manager
    time_zone: str

    @property
    def location_id(self) -> int | None:
        return self.location.id if self.location else None


async def report_scope(
    current: CurrentUserDep,
    db: SessionDep,
    settings: SettingsDep,
    location: Annotated[
        str | None, Query(max_length=40, description="an administrator's scope: a location code")
    ] = None,
) -> ReportScope:
    if not current.user.is_admin:
        try:
            manager = await manager_at_active_location(current, db)
        except Forbidden as refused:
            raise Forbidden(MANAGERS_ONLY, code="managers_only") from refused
        return ReportScope(manager, manager.location, [], manager.location.time_zone)
    actor: Actor | None
    try:  # an administrator who also works at a location keeps the portal's navigation
        actor = await member_at_active_location(current, db)
    except Forbidden:
        actor = None
    every = list((await db.execute(select(Location).order_by(Location.name))).scalars())
    if not location:
        return ReportScope(actor, None, every, settings.programme_time_zone)
    chosen = next((loc for loc in every if loc.code == location), None)
    if chosen is None:
        raise NotFound("no location has this code")
    return ReportScope(actor, chosen, every, chosen.time_zone)


ScopeDep = Annotated[ReportScope, Depends(report_scope)]
