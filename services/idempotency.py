"""The same Idempotency-Key must come with the same request: a retry is answered once, and a key
sent again with another body is refused (422 `idempotency_key_reused`) instead of being answered
as if it were the first request."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Invalid
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
    """Records the body the key first came with; refuses the key with another body."""
    kept = await db.get(IdempotentRequest, (request, key))
    if kept is None:
        try:
            async with db.begin_nested():
                db.add(IdempotentRequest(request_digest=request, key=key, body_digest=body))
            return
        except IntegrityError:  # the same key at the same moment: compare with that one
            kept = await db.get(IdempotentRequest, (request, key), populate_existing=True)
    if kept is not None and kept.body_digest != body:
        raise Invalid(
            "this Idempotency-Key was already used with a different request; use a new key",
            code=REUSED,
        )
