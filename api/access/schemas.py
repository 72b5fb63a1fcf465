"""The access area's request and response models."""

from __future__ import annotations

import re

from pydantic import BaseModel, EmailStr, Field, field_validator

from api.deps import RecordId
from api.shaping import from_attributes
from domain.text import Line
from records.users import Role, User
from services.access import LocationUserRow

LOGIN_NAME = re.compile(r"^[A-Za-z0-9._@-]{3,80}$")


class LoginIn(BaseModel):
    login_name: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class LocationRole(BaseModel):
    location_id: int
    location_code: str
    location_name: str
    time_zone: str
    scheduling_enabled: bool
    role: str


class MeOut(BaseModel):
    user_id: int
    login_name: str
    name: str
    email: str
    preferred_language: str
    # A programme administrator: programme-wide rules and tools, at no location in particular.
    is_admin: bool
    active_location_id: int | None
    locations: list[LocationRole]


class LoginOut(MeOut):
    token: str
    expires_at: str


class SwitchLocationIn(BaseModel):
    location_id: int


class SetPasswordIn(BaseModel):
    token: str = Field(min_length=10)
    password: str = Field(min_length=10, max_length=200)


def describe(user: User, active_location_id: int | None) -> MeOut:
    return from_attributes(
        MeOut,
        user,
        user_id=user.id,
        name=user.full_name,
        active_location_id=active_location_id,
        locations=[
            LocationRole(
                location_id=m.location_id,
                location_code=m.location.code,
                location_name=m.location.name,
                time_zone=m.location.time_zone,
                scheduling_enabled=m.location.scheduling_enabled,
                role=m.role,
            )
            for m in sorted(user.memberships, key=lambda m: m.location_id)
        ],
    )


class UserAdd(BaseModel):
    first_name: Line = Field(min_length=1, max_length=100)
    last_name: Line = Field(min_length=1, max_length=100)
    email: EmailStr
    login_name: str = Field(min_length=3, max_length=80)
    role: Role
    preferred_language: Line = Field(default="en", pattern="^(en|es)$")

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

    @classmethod
    def of(cls, row: LocationUserRow) -> LocationUser:
        return from_attributes(cls, row)
