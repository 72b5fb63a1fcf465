"""Idempotency keys: what each key was first sent with, so the same key with another body is refused.

Keyed on the request (method and path, as a digest: a link's path holds its token) and the key;
the body is kept as a digest only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"

    request_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
