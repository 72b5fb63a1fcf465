"""The same Idempotency-Key must come with the same request: a retry is answered once, and a key
sent again with another body is refused (422 `idempotency_key_reused`) instead of being answered
as if it were the first request."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Invalid
from records.db import utcnow
from records.idempotency import IdempotentRequest

REUSED = "idempotency_key_reused"


def request_digest(method: str, path: str) -> str:
    return hashlib.sha256(f"{method.upper()} {path}".encode()).hexdigest()


def body_digest(raw: bytes) -> str:
    """The body as sent, JSON compared by content (key order and spacing aside; the key itself,
    when the body carries it too, left out)."""
    try:
        parsed = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        return hashlib.sha256(raw).hexdigest()
    if isinstance(parsed, dict):
        parsed.pop("idempotency_key", None)
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def check_key(db: AsyncSession, *, request: str, key: str, body: str) -> None:
    """Records the body the key first came with (one INSERT … ON CONFLICT DO NOTHING: a key seen
    before, even at this same moment by another request, inserts nothing); refuses the key with
    another body."""
    recorded = await db.execute(
        _record_statement(db.get_bind().dialect.name),
        {"request_digest": request, "key": key, "body_digest": body, "created_at": utcnow()},
    )
    if recorded.first() is not None:
        return
    kept = (
        await db.execute(
            select(IdempotentRequest.body_digest).where(
                IdempotentRequest.request_digest == request, IdempotentRequest.key == key
            )
        )
    ).scalar_one()
    if kept != body:
        raise Invalid(
            "this Idempotency-Key was already used with a different request; use a new key",
            code=REUSED,
        )


@cache
def _record_statement(dialect: str) -> Any:
    """The INSERT of a key, built once per dialect (values are bound at execution, so SQLAlchemy
    does not work out a new cache key from them on every request)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, IdempotentRequest.__table__)  # a plain table INSERT: not the ORM's bulk path
    return (
        insert(table).on_conflict_do_nothing(index_elements=["request_digest", "key"]).returning(table.c.key)
    )
