"""Help-desk requester accounts: not provider logins.

Requesters register with a location's provider PIN or the help desk's generic code and
receive a single-use link by email to choose their password (using it confirms the address).
No password is ever sent: the link is minted by the activity that sends the email.
Logins are throttled like staff logins; passwords are hashed in the password pool, outside
any transaction; a password change ends the account's other sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import Invalid, Unauthenticated
from domain.security import REQUESTER_SET_PASSWORD_PURPOSE, LinkError, password_fingerprint, read_link
from domain.settings import Settings
from records.audit import audit
from records.db import reading, transaction, utcnow
from records.helpdesk import Requester
from records.locations import Location
from records.users import LoginSession
from services import passwords
from services.access import end_other_sessions, new_login_session
from services.login_throttle import Attempt, LoginThrottle

# Moves to services.mail with the access area; imported from here until then.
from services.mail import queue_email
from services.temporal import TemporalGateway


@dataclass(frozen=True)
class RequesterLogin:
    requester: Requester
    token: str
    expires_at: datetime
    device_cookie: str  # the browser is known to this account from now on


SET_PASSWORD_MAX_AGE = 7 * 24 * 3600


async def register(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    first_name: str,
    last_name: str,
    email: str,
    registration_code: str,
    preferred_language: str,
) -> None:
    """Creates a help-desk account and emails a link to choose its password. The answer is the
    same whether or not the email has an account (it must not tell a stranger who has one): an
    existing account's owner is told by email instead, with a link to set a new password."""
    # A password nobody knows (never sent, never kept) until the link sets the requester's own;
    # hashed first, in the password pool, before this request's transaction takes any lock.
    unknown_hash = await passwords.hashed(settings, secrets.token_urlsafe(32))
    code = registration_code.strip()
    location_id = None
    if not secrets.compare_digest(
        code.upper().encode(), settings.helpdesk_registration_code.upper().encode()
    ):
        location_id = (
            await db.execute(select(Location.id).where(func.upper(Location.provider_pin) == code.upper()))
        ).scalar_one_or_none()
        if location_id is None:
            raise Invalid(
                "the registration code is not a provider PIN or the help desk's code",
                code="bad_registration_code",
            )
    email = email.strip().lower()
    existing = (await db.execute(select(Requester).where(Requester.email == email))).scalar_one_or_none()
    if existing is not None:
        await _tell_account_exists(db, settings, temporal, existing)
        return
    requester = Requester(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        password_hash=unknown_hash,
        must_change_password=False,
        confirmed=False,
        preferred_language=preferred_language,
        location_id=location_id,
    )
    try:
        async with db.begin_nested():
            db.add(requester)
    except IntegrityError:  # registered concurrently: that request sent the account's email
        return
    audit(
        db, actor=f"requester:{requester.id}", entity="requester", entity_id=requester.id, action="register"
    )
    await queue_email(
        db,
        temporal,
        settings,
        key=f"requester-{requester.id}:confirm",
        to=email,
        language=requester.preferred_language,
        template="helpdesk_account",
        context={
            "name": requester.full_name,
            "email": email,
            "login_url": f"{settings.public_base_url}/helpdesk/login",
        },
        set_password_for=("requester", requester.id),
    )


async def _tell_account_exists(
    db: AsyncSession, settings: Settings, temporal: TemporalGateway, requester: Requester
) -> None:
    # At most one such email an hour per account, however often someone registers its address.
    hour = utcnow().strftime("%Y%m%d%H")
    await queue_email(
        db,
        temporal,
        settings,
        key=f"requester-{requester.id}:exists-{hour}",
        to=requester.email,
        language=requester.preferred_language,
        template="helpdesk_account_exists",
        context={
            "name": requester.full_name,
            "email": requester.email,
            "login_url": f"{settings.public_base_url}/helpdesk/login",
        },
        set_password_for=("requester", requester.id),  # minted by the sending activity
    )


async def log_in(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    throttle: LoginThrottle,
    client: str | None,
    device_cookie: str | None,
    email: str,
    password: str,
) -> RequesterLogin:
    """Opens a login session, throttled like staff logins; argon2 runs in the password pool,
    outside any transaction."""
    email = email.strip().lower()
    attempt = Attempt(f"requester:{email}", client, device_cookie)
    await throttle.check(attempt)
    async with reading(sessions) as db:
        requester = (await db.execute(select(Requester).where(Requester.email == email))).scalar_one_or_none()
    if not await passwords.verified(settings, requester.password_hash if requester else None, password):
        await throttle.failed(attempt)
        raise Unauthenticated("email or password is wrong")
    assert requester is not None
    await throttle.succeeded(attempt)
    login, token = new_login_session(settings, requester_id=requester.id)
    async with transaction(sessions) as db:
        # The first password can only have come from the emailed link: a login proves the address.
        await db.execute(update(Requester).where(Requester.id == requester.id).values(confirmed=True))
        db.add(login)
    requester.confirmed = True
    return RequesterLogin(requester, token, login.expires_at, throttle.remembered(attempt))


async def log_out(*, db: AsyncSession, login: LoginSession) -> None:
    await db.delete(login)


async def change_password(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    requester: Requester,
    login: LoginSession,
    actor: str,
    current_password: str,
    new_password: str,
) -> Requester:
    """Replaces the current password.
    Every other session of the account ends. Hashing runs in the password pool, then one short
    transaction writes, and only if the password was not changed meanwhile."""
    if not await passwords.verified(settings, requester.password_hash, current_password):
        raise Unauthenticated("the current password is wrong")
    if new_password == current_password:
        raise Invalid("choose a new password", code="same_password")
    was = password_fingerprint(requester.password_hash)
    return await _replace_password(
        sessions, settings, requester.id, was, new_password, actor=actor, keep=login
    )


async def set_password_from_link(
    *, sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str, password: str
) -> Requester:
    """Sets a new password from the emailed link (single use: it names the hash it replaces)."""
    try:
        payload = read_link(settings.secret_key, REQUESTER_SET_PASSWORD_PURPOSE, token, SET_PASSWORD_MAX_AGE)
    except LinkError as exc:
        raise Invalid(str(exc), code="bad_link") from exc
    requester_id = int(payload.get("requester_id", 0))
    actor = f"requester:{requester_id}"
    return await _replace_password(
        sessions, settings, requester_id, str(payload.get("was", "")), password, actor=actor, keep=None
    )


async def _replace_password(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    requester_id: int,
    was: str,
    password: str,
    *,
    actor: str,
    keep: LoginSession | None,
) -> Requester:
    new_hash = await passwords.hashed(settings, password)
    async with transaction(sessions) as db:
        requester = await db.get(Requester, requester_id)
        # Only if the password is still the one the link (or the change) was made against.
        if requester is None or password_fingerprint(requester.password_hash) != was:
            raise Invalid("this link has already been used", code="bad_link")
        requester.password_hash = new_hash
        requester.must_change_password = False
        requester.confirmed = True  # the link came by email, or the emailed password was used
        await end_other_sessions(db, keep, requester_id=requester.id)
        audit(db, actor=actor, entity="requester", entity_id=requester.id, action="set_password")
    return requester
