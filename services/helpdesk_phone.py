"""The phone channel: an agent opens a case for a caller. The caller's help-desk account is found
by email, or registered on the spot (they get the same email as a web sign-up, with a link to
choose their password); the case is channel "phone", the agent's call notes its description,
the agent its opener in the event log; the requester gets the same "case received" email."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Invalid
from domain.settings import Settings
from records.audit import audit
from records.helpdesk import Agent, Case, Requester
from services import helpdesk_files, passwords
from services.helpdesk_files import FileIn, Upload
from services.helpdesk_intake import category_and_topic, open_case
from services.mail import queue_email
from services.temporal import TemporalGateway


@dataclass(frozen=True)
class Caller:
    email: str
    first_name: str = ""
    last_name: str = ""
    preferred_language: str = "en"


@dataclass(frozen=True)
class PhoneCase:
    case: Case
    requester: Requester
    registered: bool  # the caller had no account: one was made and its email sent


async def find_requesters(*, db: AsyncSession, query: str, limit: int = 20) -> list[Requester]:
    """Requesters whose email or name contains the words (for the agent's "find the caller")."""
    words = [w for w in query.strip().lower().split() if w][:4]
    if not words:
        return []
    statement = select(Requester)
    for word in words:
        like = f"%{word}%"
        statement = statement.where(
            or_(
                Requester.email.like(like),
                func.lower(Requester.first_name).like(like),
                func.lower(Requester.last_name).like(like),
            )
        )
    rows = await db.execute(statement.order_by(Requester.last_name, Requester.first_name).limit(limit))
    return list(rows.scalars())


async def _find_or_register(
    db: AsyncSession, settings: Settings, temporal: TemporalGateway, caller: Caller, actor: str, unknown: str
) -> tuple[Requester, bool]:
    email = caller.email.strip().lower()
    found = (await db.execute(select(Requester).where(Requester.email == email))).scalar_one_or_none()
    if found is not None:
        return found, False
    if not caller.first_name.strip() or not caller.last_name.strip():
        raise Invalid(
            "the caller has no help-desk account: give their first and last name to register them",
            code="caller_name_needed",
        )
    requester = Requester(
        first_name=caller.first_name.strip(),
        last_name=caller.last_name.strip(),
        email=email,
        password_hash=unknown,
        must_change_password=False,
        confirmed=False,
        preferred_language=caller.preferred_language,
    )
    try:
        async with db.begin_nested():
            db.add(requester)
    except IntegrityError:  # registered at this moment by another request: use that account
        again = (await db.execute(select(Requester).where(Requester.email == email))).scalar_one()
        return again, False
    audit(db, actor=actor, entity="requester", entity_id=requester.id, action="register_by_phone")
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
    return requester, True


async def open_phone_case(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    agent: Agent,
    actor: str,
    caller: Caller,
    category: str,
    topic: str,
    subject: str,
    call_notes: str,
    contact_phone: str = "",
    upload: Upload | None = None,
    files: Sequence[FileIn] = (),
) -> PhoneCase:
    """Opens a case for a caller (registering them if they have no account)."""
    chosen_category, chosen_topic = await category_and_topic(db, category, topic)
    assert chosen_topic is not None
    attachments = helpdesk_files.checked(list(files), settings)
    if upload is not None:
        attachments.append(helpdesk_files.decoded(upload, settings))
    known = await db.scalar(select(Requester.id).where(Requester.email == caller.email.strip().lower()))
    # A new account's password nobody knows until the emailed link sets theirs; hashed before any
    # write takes a lock.
    unknown = "" if known else await passwords.hashed(settings, secrets.token_urlsafe(32))
    requester, registered = await _find_or_register(db, settings, temporal, caller, actor, unknown)
    case = await open_case(
        db=db,
        settings=settings,
        temporal=temporal,
        requester=requester,
        category=chosen_category,
        topic=chosen_topic,
        subject=subject.strip(),
        description=call_notes.strip(),
        contact_phone=contact_phone.strip(),
        channel="phone",
        opened_by=actor,
    )
    for given in attachments:
        await helpdesk_files.keep(db, settings, case, given, added_by=actor)
    audit(db, actor=actor, entity="case", entity_id=case.id, action="open_by_phone")
    return PhoneCase(case=case, requester=requester, registered=registered)
