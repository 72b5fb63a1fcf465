"""The audit log: every change a person makes, who, when, where, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # "user:12", "requester:3", "recipient-link", "system": who acted.
    actor: Mapped[str] = mapped_column(String(80))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), nullable=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    # {"field": [old, new], ...}
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Field-by-field old/new pairs of what actually changed."""
    return {
        key: [_jsonable(before.get(key)), _jsonable(after.get(key))]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def audit(
    db: AsyncSession,
    *,
    actor: str,
    entity: str,
    entity_id: object,
    action: str,
    location_id: int | None = None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        location_id=location_id,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        changes=changes or {},
        reason=reason,
    )
    db.add(entry)
    return entry
