"""Recipient CSV uploads that run in the background: the file, how far its rows have got, and
each row's outcome. A chunk of rows is registered and its progress advanced in one transaction,
so the outcome rows, the recipients they created and `done_rows` never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.uploads import UploadStatus
from records.db import Base, UTCDateTime, utcnow


class RecipientUpload(Base):
    __tablename__ = "recipient_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)  # the CSV as uploaded (UTF-8 text)
    total_rows: Mapped[int] = mapped_column(Integer)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=UploadStatus.processing.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UploadRow(Base):
    """One row's outcome: created (recipient_id), duplicate (duplicate_of) or invalid (errors)."""

    __tablename__ = "recipient_upload_rows"

    upload_id: Mapped[int] = mapped_column(ForeignKey("recipient_uploads.id"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)  # line in the file; the header is 1
    outcome: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duplicate_of: Mapped[list[int]] = mapped_column(JSON, default=list)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
