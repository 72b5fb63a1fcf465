"""Workflows a change promises to start: recorded in the change's transaction (no call to Temporal
while it holds a lock), started right after it commits, and by the worker's reconciler until
they run if that first try fails (Temporal away, the process gone). Starts are idempotent: a fixed
workflow id, REJECT_DUPLICATE for a start, USE_EXISTING for a signal-with-start."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow

from records.db import after_commit, transaction
from records.workflow_starts import PendingWorkflowStart, mark_failed, mark_started, pending_starts
from services.temporal import TemporalGateway

log = logging.getLogger("cvms.workflow_starts")

# Background first tries, kept referenced until they finish.
_first_tries: set[asyncio.Task[Any]] = set()


def workflow_name(run: Any) -> str:
    """The registered name of a workflow given as its run method (or already a name)."""
    if isinstance(run, str):
        return run
    return str(workflow._Definition.must_from_run_fn(run).name)  # noqa: SLF001 - the SDK's own lookup


async def promise_start(
    db: AsyncSession,
    temporal: TemporalGateway,
    sessions: async_sessionmaker[AsyncSession] | None,
    *,
    run: Any,
    argument: Any,
    workflow_id: str,
    signal: str | None = None,
    signal_argument: Any = None,
) -> None:
    """Records the start in the caller's transaction; once that commits, a first try runs in the
    background (the request does not wait for Temporal), the reconciler does the rest."""
    row = PendingWorkflowStart(
        workflow_id=workflow_id,
        workflow_type=workflow_name(run),
        task_queue=temporal.task_queue,
        argument=to_jsonable_python(argument),
        signal=signal,
        signal_argument=None if signal_argument is None else to_jsonable_python(signal_argument),
        attempts=0,
    )
    db.add(row)
    await db.flush()
    start_id = row.id
    factory = sessions or async_sessionmaker(db.bind, expire_on_commit=False)

    async def first_try() -> None:
        task = asyncio.create_task(start_pending(temporal, factory, ids=[start_id]))
        _first_tries.add(task)
        task.add_done_callback(_first_tries.discard)

    after_commit(db, first_try)


async def start_one(temporal: TemporalGateway, row: PendingWorkflowStart) -> None:
    if row.signal is None:
        await temporal.start(row.workflow_type, row.argument, workflow_id=row.workflow_id)
    else:
        await temporal.signal_with_start(
            row.workflow_type,
            row.argument,
            workflow_id=row.workflow_id,
            signal=row.signal,
            signal_argument=row.signal_argument,
        )


async def start_if_promised(db: AsyncSession, temporal: TemporalGateway, workflow_id: str) -> bool:
    """Starts a workflow now if a committed change promised it and its first try has not run yet
    (a change to it came first, e.g. an agent acting on a case just taken in). True when one was
    promised. Uses sessions of its own (``db``'s transaction may be over); none is open while
    Temporal is called; raises what the start raises."""
    sessions = async_sessionmaker(db.bind, expire_on_commit=False)
    async with transaction(sessions) as reading:
        rows = await pending_starts(reading, temporal.task_queue, workflow_id=workflow_id)
    for row in rows:
        await start_one(temporal, row)
        async with transaction(sessions) as writing:
            await mark_started(writing, row.id)
    return bool(rows)


async def start_pending(
    temporal: TemporalGateway, sessions: async_sessionmaker[AsyncSession], *, ids: list[int] | None = None
) -> int:
    """Starts the pending workflows (those of ``ids`` only when given); returns how many started.
    No transaction is open while Temporal is called."""
    async with transaction(sessions) as db:
        rows = await pending_starts(db, temporal.task_queue, ids)
    started = 0
    for row in rows:
        try:
            await start_one(temporal, row)
        except Exception as error:  # noqa: BLE001 - stays pending; the reconciler tries again
            log.warning("could not start %s %s yet: %s", row.workflow_type, row.workflow_id, error)
            async with transaction(sessions) as db:
                await mark_failed(db, row.id, repr(error))
            continue
        async with transaction(sessions) as db:
            await mark_started(db, row.id)
        started += 1
    return started


async def reconcile_forever(
    temporal: TemporalGateway, sessions: async_sessionmaker[AsyncSession], interval: float
) -> None:
    """The worker's loop: every ``interval`` seconds, starts what is still pending."""
    while True:
        try:
            started = await start_pending(temporal, sessions)
            if started:
                log.info("reconciler started %d promised workflow(s)", started)
        except Exception:  # noqa: BLE001 - the database may be away too; try again next round
            log.warning("reconciler round failed", exc_info=True)
        await asyncio.sleep(interval)
