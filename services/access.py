"""Access: logins and sessions (throttled by services/login_throttle.py), the active location,
set-up links and passwords, and the users of a location. The JSON routes and the portal pages share these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import Conflict, Forbidden, Invalid, Unauthenticated
from domain.security import (
    SET_PASSWORD_PURPOSE,
    LinkError,
    new_token,
    password_fingerprint,
    read_link,
    token_digest,
)
from domain.settings import Settings
from records.audit import audit
from records.db import reading, transaction, utcnow
from records.helpdesk import Agent
from records.locations import Location
from records.users import LoginSession, Membership, Role, User
from services import passwords
from services.login_throttle import Attempt, LoginThrottle
from services.mail import queue_email
from services.temporal import TemporalGateway

SET_PASSWORD_MAX_AGE = 7 * 24 * 3600


class Acting(Protocol):
    """Who acts, and where: a provider user at the active location (the API's `Actor`)."""

    @property
    def user(self) -> User: ...

    @property
    def location(self) -> Location: ...

    @property
    def actor(self) -> str: ...


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class OpenedSession:
    user: User
    active_location_id: int | None
    token: str
    expires_at: datetime
    device_cookie: str  # the browser is known to this login from now on


def session_deadline(settings: Settings, created_at: datetime, now: datetime) -> datetime:
    """When a session ends unless it is used again: after the idle time, never past its lifetime."""
    idle = now + timedelta(minutes=settings.session_idle_minutes)
    return min(idle, created_at + timedelta(hours=settings.session_hours))


def slide_due(settings: Settings, expires_at: datetime, deadline: datetime) -> bool:
    """Whether a session's idle deadline is worth writing again: at most once a minute (or a quarter
    of the idle time, when that is shorter)."""
    every = min(timedelta(minutes=1), timedelta(minutes=settings.session_idle_minutes) / 4)
    return deadline - expires_at >= every


async def extend_session(
    sessions: async_sessionmaker[AsyncSession], token_hash: str, deadline: datetime
) -> None:
    """A used session lives on (its idle deadline moves), in a short transaction of its own."""
    async with transaction(sessions) as db:
        await db.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == token_hash, LoginSession.expires_at < deadline)
            .values(expires_at=deadline)
        )


def new_login_session(settings: Settings, **owner: int | None) -> tuple[LoginSession, str]:
    """A login session of a user or a requester, and its token (only the token's digest is kept)."""
    token, now = new_token(), utcnow()
    row = LoginSession(
        token_hash=token_digest(token),
        created_at=now,
        expires_at=session_deadline(settings, now, now),
        **owner,
    )
    return row, token


async def open_session(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    throttle: LoginThrottle,
    *,
    client: str | None,
    device_cookie: str | None,
    login_name: str,
    password: str,
) -> OpenedSession:
    """Checks the password and records a new login session (the JSON and page logins share this)."""
    # Short transactions of their own, and argon2 in the password pool: a login must
    # not hold the database's write lock, nor the event loop, while it hashes.
    attempt = Attempt(f"user:{login_name.strip().casefold()}", client, device_cookie)
    await throttle.check(attempt)
    async with reading(sessions) as db:
        user = (
            await db.execute(select(User).where(User.login_name == login_name.strip()))
        ).scalar_one_or_none()
    password_ok = await passwords.verified(settings, user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        await throttle.failed(attempt)
        raise Unauthenticated("login name or password is wrong")
    await throttle.succeeded(attempt)
    active = min((m.location_id for m in user.memberships), default=None)
    login, token = new_login_session(settings, user_id=user.id, active_location_id=active)
    async with transaction(sessions) as db:
        db.add(login)
    return OpenedSession(
        user=user,
        active_location_id=active,
        token=token,
        expires_at=login.expires_at,
        device_cookie=throttle.remembered(attempt),
    )


async def end_other_sessions(db: AsyncSession, keep: LoginSession | None = None, **owner: int) -> None:
    """After a password change: every session of that login but ``keep`` (the one that changed it) ends."""
    ((column, owner_id),) = owner.items()
    condition = getattr(LoginSession, column) == owner_id
    if keep is not None:
        condition = condition & (LoginSession.token_hash != keep.token_hash)
    await db.execute(delete(LoginSession).where(condition))


PORTAL_HOME = "/portal"
AGENT_QUEUE = "/helpdesk/agent/queue"


async def start_page(db: AsyncSession, opened: OpenedSession) -> str:
    """Where a login lands when it was not sent to a page: location staff on the portal, a
    help-desk agent with no location on their queue (the portal has nothing for them)."""
    if opened.active_location_id is not None:
        return PORTAL_HOME
    agent = (await db.execute(select(Agent).where(Agent.user_id == opened.user.id))).scalar_one_or_none()
    return AGENT_QUEUE if agent is not None and agent.is_active else PORTAL_HOME


async def close_session(db: AsyncSession, login: LoginSession) -> None:
    await db.delete(login)


async def switch_active_location(user: User, login: LoginSession, location_id: int) -> None:
    if location_id not in {m.location_id for m in user.memberships}:
        raise Forbidden("you hold no role at that location")
    login.active_location_id = location_id


async def complete_password(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str, password: str
) -> None:
    """Sets the password of an account from its set-up link (single use); every session of the
    login ends. The hash is made before the transaction, in the password pool."""
    try:
        payload = read_link(settings.secret_key, SET_PASSWORD_PURPOSE, token, SET_PASSWORD_MAX_AGE)
    except LinkError as exc:
        raise Invalid(str(exc), code="bad_link") from exc
    new_hash = await passwords.hashed(settings, password)
    async with transaction(sessions) as db:
        user = await db.get(User, int(payload.get("user_id", 0)))
        # The link carries the password hash it was issued against, so it stops
        # working once used (or once the password changes any other way).
        if user is None or password_fingerprint(user.password_hash) != payload.get("was", ""):
            raise Invalid("this link has already been used", code="bad_link")
        user.password_hash = new_hash
        await end_other_sessions(db, user_id=user.id)
        audit(db, actor=f"user:{user.id}", entity="user", entity_id=user.id, action="set_password")


# --------------------------------------------------------------------------- users of a location


@dataclass(frozen=True)
class LocationUserRow:
    user_id: int
    login_name: str
    name: str
    email: str
    role: str
    account_ready: bool  # False until the user has set a password


def _row(user: User, role: str) -> LocationUserRow:
    return LocationUserRow(
        user_id=user.id,
        login_name=user.login_name,
        name=user.full_name,
        email=user.email,
        role=role,
        account_ready=user.password_hash is not None,
    )


async def location_users(db: AsyncSession, actor: Acting) -> list[LocationUserRow]:
    rows = await db.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.location_id == actor.location.id)
        .order_by(User.last_name, User.first_name)
    )
    return [_row(user, role) for user, role in rows.all()]


async def add_location_user(
    db: AsyncSession,
    actor: Acting,
    settings: Settings,
    temporal: TemporalGateway,
    *,
    first_name: str,
    last_name: str,
    email: str,
    login_name: str,
    role: Role,
    preferred_language: str,
) -> LocationUserRow:
    """An existing login (named with its email) gets the new role here; a new login gets an account
    and a set-up email."""
    user = (await db.execute(select(User).where(User.login_name == login_name))).scalar_one_or_none()
    created = user is None
    if user is None:
        user = User(
            login_name=login_name,
            email=email,
            first_name=first_name,
            last_name=last_name,
            preferred_language=preferred_language,
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
    elif user.email.strip().casefold() != email.strip().casefold():
        # Adding an existing login needs the email it is registered with: a manager who does not
        # know it learns nothing about that person here (neither the email nor their locations).
        raise Conflict(
            "this login name is taken by someone else; to add them, give the email their login has",
            code="login_taken",
        )
    elif any(m.location_id == actor.location.id for m in user.memberships):
        raise Conflict("this login already holds a role at this location; change the role instead")
    db.add(Membership(user_id=user.id, location_id=actor.location.id, role=role.value))
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="membership",
        entity_id=f"{user.id}@{actor.location.id}",
        action="add",
        changes={"role": [None, role.value]},
    )
    if created:
        # The set-password link is minted by the activity that sends the email: it never rests
        # in the outbox or in the delivery workflow's history.
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
                "role": role.value,
            },
            set_password_for=("user", user.id),
        )
    return _row(user, role.value)


async def change_location_role(
    db: AsyncSession, actor: Acting, membership: Membership, role: Role
) -> LocationUserRow:
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


async def remove_location_user(db: AsyncSession, actor: Acting, membership: Membership) -> None:
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
