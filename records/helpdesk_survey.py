"""The satisfaction survey of a help-desk case: one per case, created when its email is composed,
rated once (good or bad) with an optional comment through a signed link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

RATINGS = ("good", "bad")


class CaseSurvey(Base):
    __tablename__ = "helpdesk_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: a case's survey is asked once, whatever retries or re-resolutions follow.
    case_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_cases.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None until the requester answers; the answer spends every link of this survey.
    rating: Mapped[str | None] = mapped_column(String(4), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
