"""Provider logins: log in, log out, who am I, switch the active location, set a password."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import SESSION_COOKIE, CurrentUser, CurrentUserDep, Public, SessionDep, SessionsDep, SettingsDep
from api.errors import Forbidden, Unauthorized, Unprocessable
from api.throttle import clear_failures, login_subjects, record_failure, refuse_if_throttled
from domain.security import (
    LinkError,
    hash_password,
    new_token,
    read_link,
    token_digest,
    verify_password,
)
from domain.settings import Settings
from records.audit import audit
from records.db import transaction, utcnow
from records.users import LoginSession, Membership, User

router = APIRouter(prefix="/auth", tags=["auth"])

SET_PASSWORD_PURPOSE = "set-password"
SET_PASSWORD_MAX_AGE = 7 * 24 * 3600


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
    return MeOut(
        user_id=user.id,
        login_name=user.login_name,
        name=user.full_name,
        email=user.email,
        preferred_language=user.preferred_language,
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


async def open_session(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    request: Request,
    login_name: str,
    password: str,
) -> LoginOut:
    """Checks the password and records a new login session (the JSON and page logins share this)."""
    # Short transactions of its own, and argon2 off the event loop: a login must
    # not hold the database's write lock while it hashes.
    subjects = login_subjects(request, login_name)
    async with transaction(sessions) as db:
        await refuse_if_throttled(db, settings, subjects)
        user = (
            await db.execute(select(User).where(User.login_name == login_name.strip()))
        ).scalar_one_or_none()
    password_ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        await record_failure(sessions, subjects)
        raise Unauthorized("login name or password is wrong")
    token = new_token()
    active = min((m.location_id for m in user.memberships), default=None)
    expires = utcnow() + timedelta(hours=settings.session_hours)
    async with transaction(sessions) as db:
        await clear_failures(db, subjects[0])
        db.add(
            LoginSession(
                token_hash=token_digest(token),
                user_id=user.id,
                active_location_id=active,
                expires_at=expires,
            )
        )
    return LoginOut(**describe(user, active).model_dump(), token=token, expires_at=expires.isoformat())


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
        max_age=int(settings.session_hours * 3600),
    )


async def switch_active_location(current: CurrentUser, location_id: int) -> None:
    if location_id not in {m.location_id for m in current.user.memberships}:
        raise Forbidden("you hold no role at that location")
    current.login.active_location_id = location_id


async def complete_password(db: AsyncSession, settings: Settings, token: str, password: str) -> User:
    """Sets the password of a new account from its set-up link (single use)."""
    try:
        payload = read_link(settings.secret_key, SET_PASSWORD_PURPOSE, token, SET_PASSWORD_MAX_AGE)
    except LinkError as exc:
        raise Unprocessable(str(exc), code="bad_link") from exc
    user = await db.get(User, int(payload.get("user_id", 0)))
    # The link carries the password hash it was issued against, so it stops
    # working once used (or once the password changes any other way).
    if user is None or (user.password_hash or "") != payload.get("was", ""):
        raise Unprocessable("this link has already been used", code="bad_link")
    user.password_hash = hash_password(password)
    audit(db, actor=f"user:{user.id}", entity="user", entity_id=user.id, action="set_password")
    return user


@router.post("/login", dependencies=[Public], response_model=LoginOut)
async def login(
    body: LoginIn, request: Request, response: Response, sessions: SessionsDep, settings: SettingsDep
) -> LoginOut:
    opened = await open_session(sessions, settings, request, body.login_name, body.password)
    set_session_cookie(response, opened.token, settings)
    return opened


@router.post("/logout", status_code=204)
async def logout(current: CurrentUserDep, response: Response, db: SessionDep) -> Response:
    await db.delete(current.login)
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return response


@router.get("/me", response_model=MeOut)
async def me(current: CurrentUserDep) -> MeOut:
    return describe(current.user, current.login.active_location_id)


@router.post("/location", response_model=MeOut)
async def switch_location(body: SwitchLocationIn, current: CurrentUserDep, db: SessionDep) -> MeOut:
    await switch_active_location(current, body.location_id)
    return describe(current.user, body.location_id)


@router.post("/set-password", dependencies=[Public], status_code=204)
async def set_password(body: SetPasswordIn, db: SessionDep, settings: SettingsDep) -> Response:
    """Completes a new account from the link in its set-up email (single use)."""
    await complete_password(db, settings, body.token, body.password)
    return Response(status_code=204)


def memberships_at(user: User, location_id: int) -> Membership | None:
    return next((m for m in user.memberships if m.location_id == location_id), None)
