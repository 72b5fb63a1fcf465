"""Help-desk email in: each message the receiver accepted is kept first (one row per Message-ID,
committed before the receiver answers 250), then handled once:

- an auto-reply, a loop (our own X-Loop), list or bulk mail, or a bounce: ignored;
- an unknown sender: one email (per address and week) saying how to register, nothing else;
- a reply to a case email (its In-Reply-To / References name a Message-ID cvms sent for the
  case, or its subject has `[Case #N]`) from the case's requester: a public note without the
  quoted history, through the case workflow's `inbound_note` update, which adds it once (a pending
  case opens, a resolved one inside the reopen window reopens); a closed case (or one past the
  window) gets a linked follow-up case instead;
- anything else from a known requester: a new case (channel email), its category and topic by
  the mail routes (recipient address, subject), its team by the routing rules.
Attachments within the settings' limits are kept; others are named in the note as not kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import inbound_mail
from domain.helpdesk import REOPEN_WINDOW_PASSED, CaseView, InboundNote, case_workflow_id
from domain.refusals import Refusal, Unavailable
from domain.settings import Settings
from records.db import utcnow
from records.helpdesk import Case, CaseAttachment, CaseText, Category, Requester, Topic
from records.helpdesk_mail import InboundMessage
from records.outbox import OutboxMessage
from services import helpdesk_files
from services.helpdesk_files import FileIn
from services.helpdesk_intake import open_case
from services.helpdesk_mail_routes import mail_topic
from services.mail import queue_email
from services.temporal import TemporalGateway
from workflows.case import CaseWorkflow

WEEK_SECONDS = 7 * 86400


class _AlreadyHandled(Exception):
    """Another handler finished the message first: this one's transaction rolls back."""


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


@asynccontextmanager
async def _unit(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction; the workflow starts it promised are tried once it has committed."""
    async with sessions() as db:
        async with db.begin():
            yield db
        for action in db.info.pop("after_commit", []):
            await action()


def message_key(message: EmailMessage, raw: bytes) -> str:
    found = inbound_mail.MESSAGE_ID.search(str(message.get("Message-ID", "")))
    return found[0][:250] if found else f"<sha256.{hashlib.sha256(raw).hexdigest()}@inbound>"


async def store(
    sessions: async_sessionmaker[AsyncSession], raw: bytes, envelope_from: str, envelope_to: list[str]
) -> tuple[int, bool]:
    """Keeps the message (once per Message-ID) and commits; returns its row id and whether it is new."""
    key = message_key(parse(raw), raw)
    for _attempt in (1, 2):
        try:
            async with _unit(sessions) as db:
                found = (
                    await db.execute(select(InboundMessage.id).where(InboundMessage.message_id == key))
                ).scalar_one_or_none()
                if found is not None:
                    return found, False
                row = InboundMessage(
                    message_id=key,
                    envelope_from=envelope_from[:254],
                    envelope_to=",".join(envelope_to)[:1000],
                    raw=raw,
                    status="received",
                    reason="",
                )
                db.add(row)
                await db.flush()
                return row.id, True
        except IntegrityError:
            continue  # the same message arrived twice at once: the other delivery kept it
    raise RuntimeError(f"inbound message {key} could not be kept")


async def waiting(sessions: async_sessionmaker[AsyncSession], limit: int = 100) -> list[int]:
    """Messages kept but not yet handled (the receiver was stopped, Temporal was away)."""
    async with sessions() as db:
        rows = await db.execute(
            select(InboundMessage.id)
            .where(InboundMessage.status == "received")
            .order_by(InboundMessage.id)
            .limit(limit)
        )
        return list(rows.scalars())


async def _finish(db: AsyncSession, row_id: int, status: str, reason: str = "", **values: Any) -> None:
    """Marks the message handled, only if nobody else did first (else the transaction rolls back)."""
    done = await db.execute(
        update(InboundMessage)
        .where(InboundMessage.id == row_id, InboundMessage.status == "received")
        .values(status=status, reason=reason[:200], handled_at=utcnow(), **values)
    )
    if cast(Any, done).rowcount != 1:
        raise _AlreadyHandled()


async def handle(
    *, sessions: async_sessionmaker[AsyncSession], settings: Settings, temporal: TemporalGateway, row_id: int
) -> str:
    """Handles a kept message once; returns what became of it. Temporal being away raises
    `Unavailable` and leaves the message waiting, to be handled again later."""
    try:
        return await _handle(sessions, settings, temporal, row_id)
    except _AlreadyHandled:
        async with sessions() as db:
            row = await db.get(InboundMessage, row_id)
            return row.status if row is not None else "gone"


async def _handle(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, temporal: TemporalGateway, row_id: int
) -> str:
    async with _unit(sessions) as db:
        row = await db.get(InboundMessage, row_id)
        if row is None or row.status != "received":
            return row.status if row is not None else "gone"
        message = parse(row.raw)
        marker = inbound_mail.loop_marker(settings.helpdesk_mail_address)
        ignored = inbound_mail.why_ignored(message, row.envelope_from, marker)
        if ignored:
            await _finish(db, row_id, "ignored", ignored)
            return "ignored"
        sender = inbound_mail.sender_address(message)
        requester = (
            await db.execute(select(Requester).where(Requester.email == sender))
        ).scalar_one_or_none()
        if requester is None:
            await _tell_how_to_register(db, settings, temporal, sender, message)
            await _finish(db, row_id, "unknown_sender")
            return "unknown_sender"
        files, not_kept = _attachments(message, settings)
        text = inbound_mail.body_text(message)
        case = await _threaded_case(db, message)
        if case is None or case.requester_id != requester.id:
            recipients = inbound_mail.recipient_addresses(message, row.envelope_to.split(","))
            category, topic = await mail_topic(db, settings, recipients, str(message.get("Subject", "")))
            subject = " ".join(str(message.get("Subject", "")).split())[:200] or "(no subject)"
            opened = await _open(db, settings, temporal, requester, category, topic, subject, text + not_kept)
            await _keep_files(db, settings, opened, files, requester)
            await _finish(db, row_id, "opened", case_id=opened.id)
            return "opened"
        if case.state == "closed":
            await _follow_up(db, settings, temporal, requester, case, row, text + not_kept, files)
            return "followed_up"
        if row.text_id is None:
            kept = CaseText(case_id=case.id, body=(inbound_mail.new_text(text) + not_kept).strip() or "-")
            db.add(kept)
            await db.flush()
            row.text_id, row.case_id = kept.id, case.id
            await _keep_files(db, settings, case, files, requester, text_id=kept.id)
        note = InboundNote(ref=f"inbound-{row.id}", actor=f"requester:{requester.id}", text_id=row.text_id)
        number = case.number or 0
        # No workflow runs for an open case: not started yet (Temporal was away at intake), or it has
        # closed this moment. The message waits; the sweep tries again and finds which.
        gone = Unavailable(f"case {number}'s workflow is not running", code="case_not_running")
    try:
        await temporal.update(
            case_workflow_id(number), CaseWorkflow.inbound_note, note, result_type=CaseView, gone=gone
        )
    except Refusal as refusal:
        if refusal.code not in ("invalid_transition", REOPEN_WINDOW_PASSED):
            raise
        # Closed (or past its reopen window) meanwhile: the note opens a linked follow-up.
        async with _unit(sessions) as db:
            row, case, requester = await _reread(db, row_id)
            text = inbound_mail.body_text(parse(row.raw))
            opened = await _follow_up(db, settings, temporal, requester, case, row, text, [])
            # The files kept with the note go with it to the follow-up.
            await db.execute(
                update(CaseAttachment)
                .where(CaseAttachment.text_id == row.text_id, CaseAttachment.case_id == case.id)
                .values(case_id=opened.id)
            )
        return "followed_up"
    async with _unit(sessions) as db:
        await _finish(db, row_id, "noted")
    return "noted"


async def _reread(db: AsyncSession, row_id: int) -> tuple[InboundMessage, Case, Requester]:
    row = await db.get(InboundMessage, row_id)
    case = await db.get(Case, row.case_id) if row is not None and row.case_id else None
    requester = await db.get(Requester, case.requester_id) if case is not None else None
    if row is None or row.status != "received" or case is None or requester is None:
        raise _AlreadyHandled()
    return row, case, requester


async def _open(
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    requester: Requester,
    category: Category,
    topic: Topic,
    subject: str,
    description: str,
    linked_case: Case | None = None,
) -> Case:
    return await open_case(
        db=db,
        settings=settings,
        temporal=temporal,
        requester=requester,
        category=category,
        topic=topic,
        subject=subject,
        description=description.strip() or "-",
        contact_phone="",
        linked_case=linked_case,
        channel="email",
    )


async def _follow_up(
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    requester: Requester,
    case: Case,
    row: InboundMessage,
    text: str,
    files: list[FileIn],
) -> Case:
    category = await db.get(Category, case.category_id)
    topic = await db.get(Topic, case.topic_id)
    assert category is not None and topic is not None
    subject = f"Re: {case.subject}"[:200]
    description = inbound_mail.new_text(text)
    opened = await _open(db, settings, temporal, requester, category, topic, subject, description, case)
    await _keep_files(db, settings, opened, files, requester)
    await _finish(db, row.id, "followed_up", case_id=opened.id)
    return opened


async def _keep_files(
    db: AsyncSession,
    settings: Settings,
    case: Case,
    files: list[FileIn],
    requester: Requester,
    text_id: int | None = None,
) -> None:
    for given in files:
        await helpdesk_files.keep(
            db, settings, case, given, added_by=f"requester:{requester.id}", text_id=text_id
        )


def _attachments(message: EmailMessage, settings: Settings) -> tuple[list[FileIn], str]:
    """The attachments that may be kept, and a line naming those that may not."""
    kept: list[FileIn] = []
    refused: list[str] = []
    for part in message.iter_attachments():
        filename = part.get_filename()
        if not filename:
            continue
        given = FileIn(filename, part.get_content_type(), part.get_payload(decode=True) or b"")  # type: ignore[arg-type]
        problem = helpdesk_files.refusal(given, settings)
        if problem:
            refused.append(f"{filename} ({problem.message})")
        else:
            kept.append(given)
    not_kept = f"\n\n[Attachments not kept: {'; '.join(refused)}]" if refused else ""
    return kept, not_kept


async def _threaded_case(db: AsyncSession, message: EmailMessage) -> Case | None:
    """The case this message answers: a Message-ID cvms sent for it, else `[Case #N]` in the subject."""
    ids = inbound_mail.referenced_ids(message)
    number = None
    if ids:
        keys = await db.execute(
            select(OutboxMessage.message_id, OutboxMessage.key).where(OutboxMessage.message_id.in_(ids))
        )
        by_id = {message_id: key for message_id, key in keys}
        for found in ids:
            number = inbound_mail.case_number_of_key(by_id.get(found, ""))
            if number is not None:
                break
    if number is None:
        number = inbound_mail.case_number_in_subject(str(message.get("Subject", "")))
    if number is None:
        return None
    return (await db.execute(select(Case).where(Case.number == number))).scalar_one_or_none()


async def _tell_how_to_register(
    db: AsyncSession, settings: Settings, temporal: TemporalGateway, sender: str, message: EmailMessage
) -> None:
    """One email per address and week: how to get a help-desk account (nothing else happens)."""
    week = int(utcnow().timestamp() // WEEK_SECONDS)
    digest = hashlib.sha256(sender.encode()).hexdigest()[:24]
    language = "es" if str(message.get("Content-Language", "")).lower().startswith("es") else "en"
    base = settings.public_base_url.rstrip("/")
    await queue_email(
        db,
        temporal,
        settings,
        key=f"helpdesk-register-hint:{digest}:{week}",
        to=sender,
        language=language,
        template="helpdesk_register_hint",
        context={
            "register_url": f"{base}/helpdesk/register",
            "help_desk_address": inbound_mail.loop_marker(settings.helpdesk_mail_address),
        },
    )
