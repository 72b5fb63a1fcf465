"""Pending workflow starts: a workflow a change promised, written in the change's own transaction.

The request that made the change starts it once it has committed; the worker's reconciler
starts whatever is still pending (Temporal was away, the process died), until it runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


class PendingWorkflowStart(Base):
    __tablename__ = "pending_workflow_starts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Fixed per change (e.g. "email-<outbox key>", "case-1001"): a second start is a no-op.
    workflow_id: Mapped[str] = mapped_column(String(250))
    workflow_type: Mapped[str] = mapped_column(String(100))
    # The task queue of the API that promised it: the reconciler of that queue's worker starts it.
    task_queue: Mapped[str] = mapped_column(String(200))
    argument: Mapped[Any] = mapped_column(JSON)
    # A signal sent with the start (signal-with-start: the workflow may already run).
    signal: Mapped[str | None] = mapped_column(String(100), nullable=True)
    signal_argument: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


async def pending_starts(
    db: AsyncSession,
    task_queue: str,
    ids: list[int] | None = None,
    limit: int = 100,
    *,
    workflow_id: str | None = None,
) -> list[PendingWorkflowStart]:
    """Starts of the task queue not yet done, oldest first (only ``ids``, or only those of
    ``workflow_id``, when given)."""
    query = select(PendingWorkflowStart).where(
        PendingWorkflowStart.started_at.is_(None), PendingWorkflowStart.task_queue == task_queue
    )
    if ids is not None:
        query = query.where(PendingWorkflowStart.id.in_(ids))
    if workflow_id is not None:
        query = query.where(PendingWorkflowStart.workflow_id == workflow_id)
    return list((await db.execute(query.order_by(PendingWorkflowStart.id).limit(limit))).scalars())


async def mark_started(db: AsyncSession, start_id: int) -> None:
    await db.execute(
        update(PendingWorkflowStart)
        .where(PendingWorkflowStart.id == start_id)
        .values(started_at=utcnow(), attempts=PendingWorkflowStart.attempts + 1, last_error=None)
    )


async def mark_failed(db: AsyncSession, start_id: int, error: str) -> None:
    await db.execute(
        update(PendingWorkflowStart)
        .where(PendingWorkflowStart.id == start_id)
        .values(attempts=PendingWorkflowStart.attempts + 1, last_error=error[:500])
    )
