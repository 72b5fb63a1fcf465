"""Bookings per second through the whole API, beside raw Temporal doing the same round trips.

    python -m bench.booking [--bookings 300] [--clients 20]

Ceiling: a trivial workflow started with update-with-start whose Update runs one
trivial activity, called straight from a Temporal client (a first booking is
one update-with-start of a new journey whose handler runs one database step).
cvms: POST /appointments over real HTTP with a bearer token: validation,
authorization, the journey's update-with-start, the atomic seat claim, the
confirmation queued. Targets: >= 80 % of the ceiling's throughput, p50 <= 1.5x.

Both run as deployed: the cvms API (`cvms api`) and worker (`cvms worker`) in processes of
their own, and the ceiling's worker in a process of its own; the table gives the CPU each
process spent per booking (from /proc), the worker's own workflow-task and activity latencies
(its /metrics), and every "Workflow task duration exceeded" warning it logged.
`--profiles DIR` records py-spy stacks of the API and the worker while cvms books
(`python -m bench.profiles DIR/*.txt` summarises them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.ceilings import CeilingBookingWorkflow, TrivialInput
from bench.common import print_table, summary
from bench.cpu import CpuMeter
from bench.profiles import WORKER_LATENCIES, latency_figures, py_spy
from bench.stack import Stack, stack
from records.db import transaction, utcnow
from records.locations import Location
from records.recipients import Recipient
from records.scheduling import Slot
from tests.replicas import Replicas, replica_environment
from worker.seed import DEMO_PASSWORD


async def run_concurrently(count: int, clients: int, one) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    """`count` calls of `one(i)` from `clients` concurrent loops; latencies and wall time."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def client_loop() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return latencies, time.perf_counter() - started


async def ceiling(s: Stack, task_queue: str, count: int, clients: int) -> tuple[list[float], float]:
    run_id = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        start = WithStartWorkflowOperation(
            CeilingBookingWorkflow.run,
            TrivialInput(key=str(i)),
            id=f"ceiling-booking-{run_id}-{i}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await s.temporal.execute_update_with_start_workflow(
            CeilingBookingWorkflow.book, TrivialInput(key=str(i)), start_workflow_operation=start
        )

    return await run_concurrently(count, clients, one)


@contextlib.contextmanager
def ceiling_worker(s: Stack, task_queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """The ceiling's worker in a process of its own, as cvms's worker runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.ceilings", task_queue],
        env=replica_environment(s.settings),
        stdout=subprocess.PIPE,
        stderr=(s.folder / "ceiling-worker.log").open("ab"),
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"polling":
            raise RuntimeError("the ceiling worker did not start")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


async def prepare_bookings(s: Stack, count: int) -> tuple[list[int], int]:
    async with transaction(s.sessions) as db:
        from sqlalchemy import select

        location = (await db.execute(select(Location).where(Location.code == "WAKE-01"))).scalar_one()
        start = utcnow() + timedelta(days=3)
        slot = Slot(
            location_id=location.id,
            start_at=start,
            end_at=start + timedelta(minutes=30),
            capacity=count,
            booked=0,
            product_code="pfizer",
            is_open=True,
        )
        db.add(slot)
        recipients = []
        for i in range(count):
            recipient = Recipient(
                first_name="Bench",
                last_name=f"Booker{i}",
                date_of_birth=date(1980, 1, 1),
                sex="unknown",
                email=f"booker{i}@bench.test",
            )
            recipient.refresh_search_keys()
            db.add(recipient)
            recipients.append(recipient)
        await db.flush()
        return [r.id for r in recipients], slot.id


async def cvms(
    s: Stack,
    base_url: str,
    count: int,
    clients: int,
    meter: CpuMeter,
    profiles: Path | None = None,
    warm: int = 5,
) -> tuple[list[float], float]:
    """`warm` bookings first (each process pays its first-use costs), then `count` measured."""
    recipient_ids, slot_id = await prepare_bookings(s, warm + count)
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        token = (
            await http.post("/auth/login", json={"login_name": "scheduler", "password": DEMO_PASSWORD})
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        async def book(i: int) -> None:
            response = await http.post(
                "/appointments",
                json={"recipient_id": recipient_ids[i], "slot_id": slot_id},
                headers={**headers, "Idempotency-Key": f"bench-{tag}-{i}"},
            )
            assert response.status_code == 201, response.text

        async def measured(i: int) -> None:
            await book(warm + i)

        await run_concurrently(warm, warm, book)
        spied = {name: pid for name, pid in meter.pids.items() if name in ("api", "worker")}
        with py_spy(spied, profiles):
            meter.start()
            try:
                return await run_concurrently(count, clients, measured)
            finally:
                meter.stop()


def deployed_bytecode(folder: Path) -> None:
    """The API and worker processes cache compiled modules (in the benchmark's folder), as an
    installed package does: with PYTHONDONTWRITEBYTECODE set (this machine's shells), the workflow
    sandbox compiled workflows/journey.py from source for every new journey, a cost no deployment
    pays (pip compiles on install)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")


def slow_task_warnings(log: Path) -> list[str]:
    """The "Workflow task duration exceeded" warnings (TMPRL1104) a worker logged."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return [line for line in lines if "TMPRL1104" in line]


async def main_async(count: int, clients: int, profiles: Path | None = None, warn_seconds: int = 5) -> None:
    async with stack() as s:
        deployed_bytecode(s.folder)
        server = s.server_pid
        bench = os.getpid()
        queue = f"ceiling-{uuid.uuid4().hex[:6]}"
        with ceiling_worker(s, queue) as raw_worker:
            # Warm both paths once so neither pays first-use costs in the figures.
            await ceiling(s, queue, 5, 5)
            raw_cpu = CpuMeter({"client": bench, "worker": raw_worker.pid, "temporal": server}).start()
            raw_latencies, raw_wall = await ceiling(s, queue, count, clients)
            raw_cpu.stop()
        # The worker warns of workflow tasks over this many seconds (the SDK's default: 5).
        os.environ["TEMPORAL_WORKFLOW_TASK_DURATION_WARN_SECONDS"] = str(warn_seconds)
        replicas = Replicas(s.settings, logs=s.folder)
        try:
            base_url = await asyncio.to_thread(replicas.start_api)
            worker = await asyncio.to_thread(replicas.start_worker)
            api = replicas.apis[0][0]
            api_cpu = CpuMeter({"client": bench, "api": api.pid, "worker": worker.pid, "temporal": server})
            api_latencies, api_wall = await cvms(s, base_url, count, clients, api_cpu, profiles)
            metrics_port = replicas.health_ports[worker.pid]
            async with httpx.AsyncClient() as http:
                latencies = latency_figures((await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text)
        finally:
            await asyncio.to_thread(replicas.stop_all)
        warnings = slow_task_warnings(s.folder / "worker-0.log")
    raw, api = summary(raw_latencies), summary(api_latencies)
    raw_rate, api_rate = count / raw_wall, count / api_wall
    raw_ms, api_ms = raw_cpu.per_item_ms(count), api_cpu.per_item_ms(count)
    print_table(
        f"bench/booking: {count} bookings, {clients} concurrent clients (load average {load_average()})",
        [
            ("ceiling bookings/s", raw_rate),
            ("ceiling p50 ms", raw["p50_ms"]),
            ("ceiling p99 ms", raw["p99_ms"]),
            ("cvms bookings/s", api_rate),
            ("cvms p50 ms", api["p50_ms"]),
            ("cvms p99 ms", api["p99_ms"]),
            ("throughput ratio (target >= 0.80)", api_rate / raw_rate),
            ("p50 ratio (target <= 1.5)", api["p50_ms"] / raw["p50_ms"]),
            ("p99 ratio", api["p99_ms"] / raw["p99_ms"]),
            ("CPU ms per booking: ceiling client (Temporal client)", raw_ms["client"]),
            ("CPU ms per booking: ceiling worker", raw_ms["worker"]),
            ("CPU ms per booking: ceiling Temporal server", raw_ms["temporal"]),
            ("CPU ms per booking: cvms load generator (HTTP client)", api_ms["client"]),
            ("CPU ms per booking: cvms API", api_ms["api"]),
            ("CPU ms per booking: cvms worker", api_ms["worker"]),
            ("CPU ms per booking: cvms Temporal server", api_ms["temporal"]),
            (f"cvms worker: workflow tasks over {warn_seconds} s (TMPRL1104)", len(warnings)),
            *(
                (f"cvms worker ms mean / p99: {WORKER_LATENCIES[name] or name}", f"{mean:.0f} / {p99:.0f}")
                for name, (mean, p99) in latencies.items()
            ),
        ],
    )
    for line in warnings:
        print(f"  {line[:400]}")


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--profiles", type=Path, help="py-spy the API and the worker while cvms books; stacks to this folder"
    )
    parser.add_argument(
        "--warn-seconds", type=int, default=5, help="the worker's slow workflow task threshold"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.bookings, args.clients, args.profiles, args.warn_seconds))


if __name__ == "__main__":
    main()
