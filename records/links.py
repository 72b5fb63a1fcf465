"""Single-use signed links: the id (jti) of every link that has been used to book.

The primary key is the link id, so a second use (or two at once) cannot both
be recorded: the database refuses the second row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


class UsedLink(Base):
    __tablename__ = "used_links"

    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    # Whom the link was issued to, e.g. "recipient:12".
    subject: Mapped[str] = mapped_column(String(80))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
