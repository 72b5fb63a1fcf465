"""The email outbox: one row per (subject-of-mail, event); the key makes sends idempotent."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from email.utils import parseaddr
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, String, Table, Text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.email import EmailRequest
from domain.settings import Settings
from records.db import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    __tablename__ = "email_outbox"

    # e.g. "journey-12-1:confirmed:3" or "case-1001:resolved:2" — natural, so a
    # retried activity finds the row it already wrote instead of adding another.
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2))
    template: Mapped[str] = mapped_column(String(60))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    subject: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


def message_id_for(key: str, settings: Settings) -> str:
    domain = parseaddr(settings.mail_from)[1].partition("@")[2] or "cvms.local"
    safe = "".join(ch if ch.isalnum() or ch in "-." else "." for ch in key)
    return f"<{safe}@{domain}>"


def new_outbox_row(request: EmailRequest, settings: Settings) -> OutboxMessage:
    """The outbox row of a request, not yet in any session."""
    return OutboxMessage(
        key=request.key,
        message_id=message_id_for(request.key, settings),
        to_address=request.to,
        language=request.language,
        template=request.template,
        context={
            "values": request.context,
            "invite": dataclasses.asdict(request.invite) if request.invite else None,
        },
        subject="",
        attempts=0,
    )


async def record_outbox(db: AsyncSession, request: EmailRequest, settings: Settings) -> OutboxMessage:
    """The outbox row for the request, added in the caller's transaction if new (idempotent on the key)."""
    row = await db.get(OutboxMessage, request.key)
    if row is None:
        row = new_outbox_row(request, settings)
        db.add(row)
    return row


async def record_attempt(
    db: AsyncSession, row: OutboxMessage, *, subject: str | None, error: str | None
) -> None:
    """Records one attempt to send the row's message: sent (with its subject) when no error, else
    the error. One INSERT … ON CONFLICT: the row is written whether or not it was there before
    (a journey's message is first written here, after its first attempt)."""
    sent = error is None
    values = {
        "key": row.key,
        "message_id": row.message_id,
        "to_address": row.to_address,
        "language": row.language,
        "template": row.template,
        "context": row.context,
        "subject": subject if sent else (row.subject or ""),
        "created_at": row.created_at or utcnow(),
        "sent_at": utcnow() if sent else None,
        "attempts": 1,
        "last_error": None if sent else error,
    }
    await db.execute(_attempt_statement(db.get_bind().dialect.name, sent), values)


@cache
def _attempt_statement(dialect: str, sent: bool) -> Any:
    """The upsert of an attempt, built once per dialect and outcome."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, OutboxMessage.__table__)
    statement = insert(table)
    changes: dict[str, Any] = {"attempts": table.c.attempts + 1}
    if sent:
        excluded = statement.excluded
        changes |= {"sent_at": excluded.sent_at, "subject": excluded.subject, "last_error": None}
    else:
        changes["last_error"] = statement.excluded.last_error
    return statement.on_conflict_do_update(index_elements=[table.c.key], set_=changes)
