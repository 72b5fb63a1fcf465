"""Inbound help-desk mail: every message the receiver accepted, kept before it answered 250
(unique on its Message-ID, so a redelivery adds nothing), with what became of it; and the mail
routes that give a new case from email its category and topic (by address and subject)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

# received: kept, not yet handled; noted / opened / followed_up: reached its case;
# ignored: an auto-reply, loop or bounce; unknown_sender: told how to register.
INBOUND_OUTCOMES = ("received", "noted", "opened", "followed_up", "ignored", "unknown_sender")


class InboundMessage(Base):
    __tablename__ = "helpdesk_inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The message's own Message-ID (or a digest of it when it has none): one row per message.
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    envelope_from: Mapped[str] = mapped_column(String(254), default="")
    envelope_to: Mapped[str] = mapped_column(String(1000), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_cases.id"), nullable=True)
    # The note text kept for the case (once), so a retry hands the workflow the same text.
    text_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_case_texts.id"), nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MailRoute(Base):
    """A new case from email to `address` (empty: any) whose subject contains `subject_contains`
    (empty: any) gets this category and topic; the routing rules then pick its team. The first
    matching route by position wins; none: CVMS_HELPDESK_MAIL_TOPIC."""

    __tablename__ = "helpdesk_mail_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    address: Mapped[str] = mapped_column(String(254), default="")
    subject_contains: Mapped[str] = mapped_column(String(200), default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_categories.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_topics.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(Text, default="")
