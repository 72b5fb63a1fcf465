"""Typed dependencies every route states in its signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import Forbidden, Unauthorized
from api.mail import start_committed_email
from api.permissions import Permission, allows
from api.security import token_digest
from records.db import utcnow
from records.locations import Location
from records.users import LoginSession, Membership, User
from worker.settings import Settings

SESSION_COOKIE = "cvms_session"


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessions


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent and only
    when the route returned normally; email the route queued starts after commit."""
    async with request.app.state.sessions() as session:
        async with session.begin():
            yield session
        await start_committed_email(session)


async def get_temporal(request: Request) -> Client:
    return await request.app.state.temporal()


def public_route() -> None:
    """Marks a route as open without a provider login (log in, signed recipient links,
    health, help-desk sign-up). The authorization test requires every route to carry
    either this marker or an identity dependency, so nothing is public by accident."""


Public = Depends(public_route)

# Every record id in a path: a positive 32-bit integer (what both databases hold).
RecordId = Annotated[int, Path(ge=1, le=2_147_483_647)]

SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
# For the few routes that manage their own short transactions (logins).
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


async def _login_session(request: Request, db: AsyncSession) -> LoginSession:
    token = bearer_token(request)
    if not token:
        raise Unauthorized("log in first")
    login = await db.get(LoginSession, token_digest(token))
    if login is None or login.expires_at <= utcnow():
        raise Unauthorized("your session has ended; log in again")
    return login


@dataclass(frozen=True)
class CurrentUser:
    user: User
    login: LoginSession

    @property
    def actor(self) -> str:
        return f"user:{self.user.id}"


async def get_current_user(request: Request, db: SessionDep) -> CurrentUser:
    login = await _login_session(request, db)
    if login.user_id is None:
        # A help-desk requester's login gives no access to the provider side.
        raise Forbidden("this is a help-desk account; it has no access to the provider portal")
    user = await db.get(User, login.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("your account is not active")
    return CurrentUser(user=user, login=login)


CurrentUserDep = Annotated[CurrentUser, Depends(get_current_user)]


@dataclass(frozen=True)
class Actor:
    """A provider user acting at their active location with one role there."""

    user: User
    login: LoginSession
    location: Location
    role: str

    @property
    def actor(self) -> str:
        return f"user:{self.user.id}"

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


class Require:
    """`Depends(Require(Permission.x))`: the active location's role must grant x.

    The permission is kept on the instance so the authorization test can read,
    for every route, what it demands.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, current: CurrentUserDep, db: SessionDep) -> Actor:
        location_id = current.login.active_location_id
        if location_id is None:
            raise Forbidden("choose an active location first")
        membership = (
            await db.execute(
                select(Membership).where(
                    Membership.user_id == current.user.id, Membership.location_id == location_id
                )
            )
        ).scalar_one_or_none()
        if membership is None:
            raise Forbidden("you hold no role at your active location")
        if not allows(membership.role, self.permission):
            raise Forbidden(
                f"your role ({membership.role}) at {membership.location.name} "
                f"does not allow this ({self.permission.value})"
            )
        return Actor(
            user=current.user, login=current.login, location=membership.location, role=membership.role
        )


Reader = Annotated[Actor, Depends(Require(Permission.read))]
Registrar = Annotated[Actor, Depends(Require(Permission.register))]
Documenter = Annotated[Actor, Depends(Require(Permission.document))]
Scheduler = Annotated[Actor, Depends(Require(Permission.schedule))]
Manager = Annotated[Actor, Depends(Require(Permission.manage))]
