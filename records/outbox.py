"""The email outbox: one row per (subject-of-mail, event); the key makes sends idempotent."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import JSON, String, Text, update
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


async def record_outbox(db: AsyncSession, request: EmailRequest, settings: Settings) -> OutboxMessage:
    """The outbox row for the request, added in the caller's transaction if new (idempotent on the key)."""
    row = await db.get(OutboxMessage, request.key)
    if row is None:
        row = OutboxMessage(
            key=request.key,
            message_id=message_id_for(request.key, settings),
            to_address=request.to,
            language=request.language,
            template=request.template,
            context={
                "values": request.context,
                "invite": dataclasses.asdict(request.invite) if request.invite else None,
            },
            attempts=0,
        )
        db.add(row)
    return row


async def mark_sent(db: AsyncSession, key: str, subject: str) -> None:
    """Records that the relay took the message: one UPDATE, no read before it."""
    result = await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.key == key)
        .values(sent_at=utcnow(), subject=subject, last_error=None)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LookupError(f"no outbox message {key}")
