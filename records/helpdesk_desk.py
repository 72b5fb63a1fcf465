"""The agent workspace's own records: macros (canned responses per team, in English and
Spanish), presence (who has a case open or is replying, with a short expiry) and links
between related cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

# The placeholders a macro's text may hold, each `{name}`.
MACRO_PLACEHOLDERS = ("requester_name", "case_number", "agent_name")


class Macro(Base):
    """A canned response of one team. The body the requester reads is in their language."""

    __tablename__ = "helpdesk_macros"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    body_en: Mapped[str] = mapped_column(Text)
    body_es: Mapped[str] = mapped_column(Text)
    # Applied with the reply: "" (keep), "pending" or "resolved"; a priority or "" (keep).
    set_state: Mapped[str] = mapped_column(String(10), default="")
    set_priority: Mapped[str] = mapped_column(String(10), default="")
    # Public reply (True) or internal note (False) by default.
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CasePresence(Base):
    """An agent with a case open (or replying) until `expires_at`: the collision notice."""

    __tablename__ = "helpdesk_case_presence"
    __table_args__ = (UniqueConstraint("case_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_agents.id", ondelete="CASCADE"))
    replying: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseLink(Base):
    """Two related cases (written both ways, so each case lists the other)."""

    __tablename__ = "helpdesk_case_links"
    __table_args__ = (UniqueConstraint("case_id", "related_case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), index=True)
    related_case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
