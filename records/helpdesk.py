"""The help desk: requesters, teams and agents, intake data (categories, topics,
routing rules), and cases with their event log, notes and attachments.

A case row is created by the API at intake; from then on its case workflow
(`workflows/case.py`) owns it and changes it only through activities.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.db import Base, UTCDateTime, utcnow

CASE_STATES = ("new", "open", "pending", "resolved", "closed")
# The first case number; numbers are the case id plus this offset minus one.
FIRST_CASE_NUMBER = 1001


class Requester(Base):
    """A help-desk account: separate from provider logins, no access to the provider side."""

    __tablename__ = "helpdesk_requesters"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))
    # True while the password is the temporary one from the confirmation email.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set on the first login with the emailed temporary password (proves the address).
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_language: Mapped[str] = mapped_column(String(2), default="en")
    # The location whose provider PIN was quoted at registration (None: the generic code).
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Team(Base):
    __tablename__ = "helpdesk_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Where breach escalations go.
    email: Mapped[str] = mapped_column(String(254))
    # The team cases go to when no routing rule matches (exactly one should be).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Agent(Base):
    """Help-desk staff: a provider-side user account (same login) flagged as an agent.

    Agents log in through /auth/login like any user; agent routes accept only
    logins whose user has an active agent record.
    """

    __tablename__ = "helpdesk_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # May change routing rules, categories and topics.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class TeamMember(Base):
    __tablename__ = "helpdesk_team_members"
    __table_args__ = (UniqueConstraint("team_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_teams.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_agents.id", ondelete="CASCADE"), index=True)


class Category(Base):
    __tablename__ = "helpdesk_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name Spanish pages and mail show ("" falls back to the English name).
    name_es: Mapped[str] = mapped_column(String(100), default="", server_default="")
    position: Mapped[int] = mapped_column(default=0)

    def name_in(self, language: str) -> str:
        return localized_name(self.name, self.name_es, language)

    topics: Mapped[list[Topic]] = relationship(lazy="selectin", order_by="Topic.position")


class Topic(Base):
    __tablename__ = "helpdesk_topics"
    __table_args__ = (UniqueConstraint("category_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_categories.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    name_es: Mapped[str] = mapped_column(String(100), default="", server_default="")
    default_priority: Mapped[str] = mapped_column(String(10), default="normal")
    position: Mapped[int] = mapped_column(default=0)

    def name_in(self, language: str) -> str:
        return localized_name(self.name, self.name_es, language)


def localized_name(name: str, name_es: str, language: str) -> str:
    """A category's or topic's name in the reader's language: the Spanish one when it has one."""
    return name_es if language == "es" and name_es.strip() else name


class RoutingRule(Base):
    """Category (and optionally topic) → team. A topic rule beats its category's rule."""

    __tablename__ = "helpdesk_routing_rules"
    __table_args__ = (UniqueConstraint("category_id", "topic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_categories.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_topics.id", ondelete="CASCADE"), nullable=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_teams.id"))


class Case(Base):
    __tablename__ = "helpdesk_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Human-readable, unique; the workflow ID is f"case-{number}".
    number: Mapped[int | None] = mapped_column(unique=True, nullable=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_requesters.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_teams.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_agents.id"), nullable=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_categories.id"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_topics.id"))
    state: Mapped[str] = mapped_column(String(10), default="new", index=True)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    # How the case came in: web, email or phone.
    channel: Mapped[str] = mapped_column(String(10), default="web")
    # A reply to a closed case opens a new case linked to the old one.
    linked_case_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_cases.id"), nullable=True)
    first_response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set once any requester wait has run past its next-update target.
    next_update_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CaseAttachment(Base):
    __tablename__ = "helpdesk_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    # Contents live in the attachment store under this key (records.attachment_store); `data`
    # holds only attachments kept before the store existed.
    storage_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Who added it ("requester:3", "agent:2") and the note text it came with, if any.
    added_by: Mapped[str] = mapped_column(String(40), default="")
    text_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_case_texts.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEventRecord(Base):
    """The case's event log, in `seq` order: the SLA state is a pure function of it.

    Kinds: created, assigned, note, first_response, pending, open, resolved,
    reopened, closed, priority, breach. `seq` is given by the case workflow, so
    a retried activity finds the event it already wrote.
    """

    __tablename__ = "helpdesk_case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    # "requester:3", "agent:2", "system".
    actor: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(10), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CaseNote(Base):
    __tablename__ = "helpdesk_case_notes"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), index=True)
    # The seq of the event that added the note.
    seq: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(40))  # "requester:3" / "agent:2"
    author_name: Mapped[str] = mapped_column(String(200))
    # "public" notes reach the requester; "internal" ones never leave the help desk.
    visibility: Mapped[str] = mapped_column(String(10))
    # "note", "resolution", "reply".
    purpose: Mapped[str] = mapped_column(String(12), default="note")
    body: Mapped[str] = mapped_column(Text)


class CaseText(Base):
    """The text of a note or reply as it was written, kept before the case workflow is asked to add
    it: the workflow carries only this row's id, so no note text enters a workflow history."""

    __tablename__ = "helpdesk_case_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def actor_name(db: Any, actor: str) -> str:
    """The display name of a case actor ("agent:2", "requester:3"; "system" stays as it is)."""
    kind, _, raw_id = actor.partition(":")
    model = {"agent": Agent, "requester": Requester}.get(kind)
    row = await db.get(model, int(raw_id)) if model is not None and raw_id.isdigit() else None
    if row is None:
        return actor
    return str(row.display_name if isinstance(row, Agent) else row.full_name)
