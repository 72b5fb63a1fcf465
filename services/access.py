"""Access: logins and sessions (with throttling), the active location, set-up links and
passwords, and the users of a location. The JSON routes and the portal pages share these."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import Conflict, Forbidden, Invalid, Throttled, Unauthenticated
from domain.security import (
    SET_PASSWORD_PURPOSE,
    LinkError,
    hash_password,
    new_token,
    password_fingerprint,
    read_link,
    token_digest,
    verify_password,
)
from domain.settings import Settings
from records.audit import audit
from records.db import transaction, utcnow
from records.helpdesk import Agent
from records.locations import Location
from records.users import LoginFailure, LoginSession, Membership, Role, User
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


# --------------------------------------------------------------------------- throttling
# Too many failures for one login name (or, at four times the limit, from one client address,
# since a clinic shares one) within the window is refused until the window has passed.


def login_subjects(client: str | None, login_name: str) -> list[str]:
    return [f"login:{login_name.strip().casefold()}", f"ip:{client or 'unknown'}"]


async def refuse_if_throttled(db: AsyncSession, settings: Settings, subjects: list[str]) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    for subject in subjects:
        failures = (
            await db.execute(
                select(func.count()).where(LoginFailure.subject == subject, LoginFailure.at >= since)
            )
        ).scalar_one()
        limit = settings.login_max_failures * (4 if subject.startswith("ip:") else 1)
        if failures >= limit:
            raise Throttled(
                "too many failed logins; wait a few minutes and try again",
                code="login_throttled",
                retry_after_seconds=int(settings.login_window_seconds),
            )


async def record_failure(sessions: async_sessionmaker[AsyncSession], subjects: list[str]) -> None:
    """Written in its own transaction: the failed request's own transaction rolls back."""
    async with transaction(sessions) as db:
        for subject in subjects:
            db.add(LoginFailure(subject=subject))


async def clear_failures(db: AsyncSession, login_subject: str) -> None:
    await db.execute(delete(LoginFailure).where(LoginFailure.subject == login_subject))


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class OpenedSession:
    user: User
    active_location_id: int | None
    token: str
    expires_at: datetime


async def open_session(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    client: str | None,
    login_name: str,
    password: str,
) -> OpenedSession:
    """Checks the password and records a new login session (the JSON and page logins share this)."""
    # Short transactions of its own, and argon2 off the event loop: a login must
    # not hold the database's write lock while it hashes.
    subjects = login_subjects(client, login_name)
    async with transaction(sessions) as db:
        await refuse_if_throttled(db, settings, subjects)
        user = (
            await db.execute(select(User).where(User.login_name == login_name.strip()))
        ).scalar_one_or_none()
    password_ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        await record_failure(sessions, subjects)
        raise Unauthenticated("login name or password is wrong")
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
    return OpenedSession(user=user, active_location_id=active, token=token, expires_at=expires)


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


async def complete_password(db: AsyncSession, settings: Settings, token: str, password: str) -> User:
    """Sets the password of a new account from its set-up link (single use)."""
    try:
        payload = read_link(settings.secret_key, SET_PASSWORD_PURPOSE, token, SET_PASSWORD_MAX_AGE)
    except LinkError as exc:
        raise Invalid(str(exc), code="bad_link") from exc
    user = await db.get(User, int(payload.get("user_id", 0)))
    # The link carries the password hash it was issued against, so it stops
    # working once used (or once the password changes any other way).
    if user is None or password_fingerprint(user.password_hash) != payload.get("was", ""):
        raise Invalid("this link has already been used", code="bad_link")
    user.password_hash = hash_password(password)
    audit(db, actor=f"user:{user.id}", entity="user", entity_id=user.id, action="set_password")
    return user


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
    """An existing login gets the new role here; a new login gets an account and a set-up email."""
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
