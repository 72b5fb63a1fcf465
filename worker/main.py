"""The worker process: runs the cvms workflows and activities on the task queue."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from domain.settings import Settings
from records.db import make_engine, make_sessionmaker
from services import telemetry
from services.temporal import TemporalGateway, connect
from services.workflow_starts import reconcile_forever
from worker import registry
from worker.observability import CountingInterceptor, serve_health

log = logging.getLogger("cvms.worker")

# Workflow activations are pure Python and hold the GIL: threads beyond a couple only share it.
# The SDK's default (one thread per workflow task slot, up to 500) lets 20 new workflows run their
# first activations at once (sandboxed ones building their sandboxes), each a twentieth as fast,
# every one finishing last and late, while the event loop that runs their local activities and
# sends their completions waits for the GIL too.
WORKFLOW_THREADS = 2


class ReconcilingWorker(Worker):
    """The cvms worker: polls its task queue and, beside it, starts the workflows committed
    changes promised but could not start (pending workflow starts), until they run."""

    def __init__(
        self, client: Client, settings: Settings, sessions: Any, task_queue: str, **options: Any
    ) -> None:
        self.workflow_threads = ThreadPoolExecutor(WORKFLOW_THREADS, thread_name_prefix="workflow-task")
        super().__init__(
            client, task_queue=task_queue, workflow_task_executor=self.workflow_threads, **options
        )
        self.reconciler_gateway = TemporalGateway(
            client, task_queue, deadline=settings.temporal_deadline_seconds
        )
        self.reconciler_sessions = sessions
        self.reconcile_interval = settings.reconcile_interval_seconds

    async def run(self) -> None:
        reconciler = asyncio.create_task(
            reconcile_forever(self.reconciler_gateway, self.reconciler_sessions, self.reconcile_interval)
        )
        try:
            await super().run()
        finally:
            reconciler.cancel()
            self.workflow_threads.shutdown(wait=False)  # ours to end: the SDK ends only its own


def build_worker(client: Client, settings: Settings, task_queue: str | None = None) -> Worker:
    sessions = make_sessionmaker(make_engine(settings.database_url))
    return ReconcilingWorker(
        client,
        settings,
        sessions,
        task_queue or settings.temporal_task_queue,
        workflows=registry.workflows(),
        activities=registry.activities(settings, sessions),
        max_concurrent_activities=100,
        interceptors=[CountingInterceptor()],
    )


async def run_worker(settings: Settings) -> None:
    telemetry.configure_tracing(settings.traces_file)
    client = await _connect_with_retry(settings)
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = make_engine(settings.database_url)
    health = None
    try:
        async with worker:
            log.info("worker polling %s on %s", settings.temporal_task_queue, settings.temporal_address)
            # The port opens once the worker polls: an orchestrator (or a test) waiting for it
            # knows the worker takes work.
            if settings.worker_health_port:
                health = await serve_health(settings.worker_health_port, engine, client)
            telemetry.settle_heap()
            await stop.wait()
    finally:
        if health is not None:
            health.close()
        await engine.dispose()


async def _connect_with_retry(settings: Settings, attempts: int = 60) -> Client:
    for attempt in range(attempts):
        try:
            return await connect(settings)
        except Exception as exc:  # noqa: BLE001 - Temporal may still be starting
            if attempt == attempts - 1:
                raise
            log.info("waiting for Temporal at %s (%s)", settings.temporal_address, exc)
            await asyncio.sleep(1)
    raise RuntimeError("unreachable")
