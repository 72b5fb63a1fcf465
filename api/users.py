"""Location managers add users to their location, change roles, and remove users."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, EmailStr, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import SET_PASSWORD_PURPOSE
from api.deps import Actor, Manager, RecordId, SessionDep, SettingsDep, TemporalDep
from api.errors import Conflict, NotFound
from domain.security import sign_link
from domain.settings import Settings
from records.audit import audit
from records.users import Membership, Role, User
from services.mail import queue_email
from services.temporal import TemporalGateway

router = APIRouter(prefix="/location/users", tags=["location users"])

LOGIN_NAME = re.compile(r"^[A-Za-z0-9._@-]{3,80}$")


class UserAdd(BaseModel):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    login_name: str = Field(min_length=3, max_length=80)
    role: Role
    preferred_language: str = Field(default="en", pattern="^(en|es)$")

    @field_validator("login_name")
    @classmethod
    def _login_name(cls, value: str) -> str:
        if not LOGIN_NAME.match(value):
            raise ValueError("use 3-80 letters, digits, '.', '_', '@' or '-'")
        return value


class RoleChange(BaseModel):
    role: Role


class LocationUser(BaseModel):
    user_id: RecordId
    login_name: str
    name: str
    email: str
    role: str
    account_ready: bool  # False until the user has set a password


def _row(user: User, role: str) -> LocationUser:
    return LocationUser(
        user_id=user.id,
        login_name=user.login_name,
        name=user.full_name,
        email=user.email,
        role=role,
        account_ready=user.password_hash is not None,
    )


async def load_location_user(user_id: RecordId, actor: Manager, db: SessionDep) -> Membership:
    """The user's membership at the manager's active location; any other user is a 404."""
    membership = (
        await db.execute(
            select(Membership).where(
                Membership.location_id == actor.location.id, Membership.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound("no such user at this location")
    return membership


LocationUserDep = Annotated[Membership, Depends(load_location_user)]


async def location_users(db: AsyncSession, actor: Actor) -> list[LocationUser]:
    rows = await db.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.location_id == actor.location.id)
        .order_by(User.last_name, User.first_name)
    )
    return [_row(user, role) for user, role in rows.all()]


async def add_location_user(
    db: AsyncSession, actor: Actor, settings: Settings, temporal: TemporalGateway, body: UserAdd
) -> LocationUser:
    """An existing login gets the new role here; a new login gets an account and a set-up email."""
    user = (await db.execute(select(User).where(User.login_name == body.login_name))).scalar_one_or_none()
    created = user is None
    if user is None:
        user = User(
            login_name=body.login_name,
            email=str(body.email),
            first_name=body.first_name,
            last_name=body.last_name,
            preferred_language=body.preferred_language,
        )
        db.add(user)
        await db.flush()
        audit(
            db,
            actor=actor.actor,
            location_id=actor.location.id,
            entity="user",
            entity_id=user.id,
            action="create",
            changes={"login_name": [None, user.login_name], "email": [None, user.email]},
        )
    elif any(m.location_id == actor.location.id for m in user.memberships):
        raise Conflict("this login already holds a role at this location; change the role instead")
    db.add(Membership(user_id=user.id, location_id=actor.location.id, role=body.role.value))
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="membership",
        entity_id=f"{user.id}@{actor.location.id}",
        action="add",
        changes={"role": [None, body.role.value]},
    )
    if created:
        link = sign_link(settings.secret_key, SET_PASSWORD_PURPOSE, {"user_id": user.id, "was": ""})
        await queue_email(
            db,
            temporal,
            settings,
            key=f"user-{user.id}:account-setup",
            to=user.email,
            language=user.preferred_language,
            template="account_setup",
            context={
                "name": user.full_name,
                "login_name": user.login_name,
                "location_name": actor.location.name,
                "role": body.role.value,
                "set_password_url": f"{settings.public_base_url}/portal/set-password?token={link}",
                "set_password_token": link,
            },
        )
    return _row(user, body.role.value)


async def change_location_role(
    db: AsyncSession, actor: Actor, membership: Membership, role: Role
) -> LocationUser:
    user_id = membership.user_id
    if membership.user_id == actor.user.id and role != Role.manager:
        raise Conflict("you cannot remove your own manager role; ask another manager")
    old = membership.role
    membership.role = role.value
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="membership",
        entity_id=f"{user_id}@{actor.location.id}",
        action="change_role",
        changes={"role": [old, role.value]},
    )
    user = await db.get(User, user_id)
    assert user is not None
    return _row(user, membership.role)


async def remove_location_user(db: AsyncSession, actor: Actor, membership: Membership) -> None:
    user_id = membership.user_id
    if membership.user_id == actor.user.id:
        raise Conflict("you cannot remove yourself from the location")
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="membership",
        entity_id=f"{user_id}@{actor.location.id}",
        action="remove",
        changes={"role": [membership.role, None]},
    )
    await db.delete(membership)


@router.get("", response_model=list[LocationUser])
async def list_users(actor: Manager, db: SessionDep) -> list[LocationUser]:
    return await location_users(db, actor)


@router.post("", response_model=LocationUser, status_code=201)
async def add_user(
    body: UserAdd, actor: Manager, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> LocationUser:
    return await add_location_user(db, actor, settings, temporal, body)


@router.patch("/{user_id}", response_model=LocationUser)
async def change_role(
    user_id: RecordId, body: RoleChange, membership: LocationUserDep, actor: Manager, db: SessionDep
) -> LocationUser:
    return await change_location_role(db, actor, membership, body.role)


@router.delete("/{user_id}", status_code=204)
async def remove_user(
    user_id: RecordId, membership: LocationUserDep, actor: Manager, db: SessionDep
) -> Response:
    await remove_location_user(db, actor, membership)
    return Response(status_code=204)
