"""Help-desk requester accounts: not provider logins.

Requesters register with a location's provider PIN or the help desk's generic code and
receive a single-use link by email to choose their password (using it confirms the address).
No password is ever sent: the link is minted by the activity that sends the email.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Conflict, Invalid, Unauthenticated
from domain.security import (
    REQUESTER_SET_PASSWORD_PURPOSE,
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
from records.db import utcnow
from records.helpdesk import Requester
from records.locations import Location
from records.users import LoginSession

# Moves to services.mail with the access area; imported from here until then.
from services.mail import queue_email
from services.temporal import TemporalGateway

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
) -> Requester:
    """Creates a help-desk account and emails a link to choose its password."""
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
    if (await db.execute(select(Requester.id).where(Requester.email == email))).first() is not None:
        raise Conflict("a help-desk account with this email exists; log in instead", code="account_exists")
    requester = Requester(
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email,
        # A password nobody knows (never sent, never kept) until the link sets the requester's own.
        password_hash=await asyncio.to_thread(hash_password, secrets.token_urlsafe(32)),
        must_change_password=False,
        confirmed=False,
        preferred_language=preferred_language,
        location_id=location_id,
    )
    db.add(requester)
    try:
        await db.flush()
    except IntegrityError as exc:  # registered concurrently
        raise Conflict("a help-desk account with this email exists", code="account_exists") from exc
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
    return requester


async def set_password_from_link(
    *, db: AsyncSession, settings: Settings, token: str, password: str
) -> Requester:
    """Sets the requester's password from the emailed link (single use: the link names the password
    it replaces) and confirms the address."""
    try:
        payload = read_link(settings.secret_key, REQUESTER_SET_PASSWORD_PURPOSE, token, SET_PASSWORD_MAX_AGE)
    except LinkError as exc:
        raise Invalid(str(exc), code="bad_link") from exc
    requester = await db.get(Requester, int(payload.get("requester_id", 0)))
    if requester is None or password_fingerprint(requester.password_hash) != payload.get("was"):
        raise Invalid("this link has already been used", code="bad_link")
    requester.password_hash = await asyncio.to_thread(hash_password, password)
    requester.must_change_password = False
    requester.confirmed = True
    audit(
        db,
        actor=f"requester:{requester.id}",
        entity="requester",
        entity_id=requester.id,
        action="set_password",
    )
    return requester


async def log_in(
    *, db: AsyncSession, settings: Settings, email: str, password: str
) -> tuple[Requester, str, datetime]:
    """Opens a login session: the requester, its token and when it expires."""
    email = email.strip().lower()
    requester = (await db.execute(select(Requester).where(Requester.email == email))).scalar_one_or_none()
    if not verify_password(requester.password_hash if requester else None, password) or not requester:
        raise Unauthenticated("email or password is wrong")
    # Only the emailed temporary password can be the first: logging in with it proves the address.
    requester.confirmed = True
    token = new_token()
    expires = utcnow() + timedelta(hours=settings.session_hours)
    db.add(LoginSession(token_hash=token_digest(token), requester_id=requester.id, expires_at=expires))
    return requester, token, expires


async def log_out(*, db: AsyncSession, login: LoginSession) -> None:
    await db.delete(login)


def change_password(
    *, db: AsyncSession, requester: Requester, actor: str, current_password: str, new_password: str
) -> None:
    """Replaces the temporary (or current) password; required before any other help-desk call."""
    if not verify_password(requester.password_hash, current_password):
        raise Unauthenticated("the current password is wrong")
    if new_password == current_password:
        raise Invalid("choose a new password", code="same_password")
    requester.password_hash = hash_password(new_password)
    requester.must_change_password = False
    audit(db, actor=actor, entity="requester", entity_id=requester.id, action="set_password")
