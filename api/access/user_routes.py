"""Location managers add users to their location, change roles, and remove users."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.access.deps import LocationUserDep
from api.access.schemas import LocationUser, RoleChange, UserAdd
from api.deps import Manager, RecordId, SessionDep, SettingsDep, TemporalDep
from services import access

router = APIRouter(prefix="/location/users", tags=["location users"])


@router.get("", response_model=list[LocationUser])
async def list_users(actor: Manager, db: SessionDep) -> list[LocationUser]:
    return [LocationUser.of(row) for row in await access.location_users(db, actor)]


@router.post("", response_model=LocationUser, status_code=201)
async def add_user(
    body: UserAdd, actor: Manager, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> LocationUser:
    row = await access.add_location_user(db, actor, settings, temporal, **body.model_dump())
    return LocationUser.of(row)


@router.patch("/{user_id}", response_model=LocationUser)
async def change_role(
    user_id: RecordId, body: RoleChange, membership: LocationUserDep, actor: Manager, db: SessionDep
) -> LocationUser:
    return LocationUser.of(await access.change_location_role(db, actor, membership, body.role))


@router.delete("/{user_id}", status_code=204)
async def remove_user(
    user_id: RecordId, membership: LocationUserDep, actor: Manager, db: SessionDep
) -> Response:
    await access.remove_location_user(db, actor, membership)
    return Response(status_code=204)
