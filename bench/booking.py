"""Bookings per second through the whole API, beside raw Temporal doing the same round trips.

    python -m bench.booking [--bookings 300] [--clients 20]

Ceiling: a trivial workflow started with update-with-start whose Update runs one
trivial activity, called straight from a Temporal client (a first booking is
one update-with-start of a new journey whose handler runs one database step).
cvms: POST /appointments over real HTTP with a bearer token: validation,
authorization, the journey's update-with-start, the atomic seat claim, the
confirmation queued. Targets: >= 50 % of the ceiling's throughput, p99 <= 3x.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date, timedelta

import httpx
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from api.app import create_app
from bench.ceilings import CeilingBookingWorkflow, TrivialInput, trivial_activity
from bench.common import print_table, serve_in_thread, summary
from bench.stack import Stack, stack
from records.db import transaction, utcnow
from records.locations import Location
from records.recipients import Recipient
from records.scheduling import Slot
from worker.devserver import free_port
from worker.main import build_worker
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


async def ceiling(s: Stack, count: int, clients: int) -> tuple[list[float], float]:
    queue = f"ceiling-{uuid.uuid4().hex[:6]}"
    run_id = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        start = WithStartWorkflowOperation(
            CeilingBookingWorkflow.run,
            TrivialInput(key=str(i)),
            id=f"ceiling-booking-{run_id}-{i}",
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await s.temporal.execute_update_with_start_workflow(
            CeilingBookingWorkflow.book, TrivialInput(key=str(i)), start_workflow_operation=start
        )

    async with Worker(
        s.temporal, task_queue=queue, workflows=[CeilingBookingWorkflow], activities=[trivial_activity]
    ):
        return await run_concurrently(count, clients, one)


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


async def cvms(s: Stack, base_url: str, count: int, clients: int) -> tuple[list[float], float]:
    recipient_ids, slot_id = await prepare_bookings(s, count)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        token = (
            await http.post("/auth/login", json={"login_name": "scheduler", "password": DEMO_PASSWORD})
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        async def one(i: int) -> None:
            response = await http.post(
                "/appointments",
                json={"recipient_id": recipient_ids[i], "slot_id": slot_id},
                headers={**headers, "Idempotency-Key": f"bench-{i}"},
            )
            assert response.status_code == 201, response.text

        return await run_concurrently(count, clients, one)


async def main_async(count: int, clients: int) -> None:
    async with stack() as s:
        async with build_worker(s.temporal, s.settings):
            with serve_in_thread(create_app(s.settings), free_port()) as base_url:
                # Warm both paths once so neither pays first-use costs in the figures.
                await ceiling(s, 5, 5)
                raw_latencies, raw_wall = await ceiling(s, count, clients)
                api_latencies, api_wall = await cvms(s, base_url, count, clients)
    raw, api = summary(raw_latencies), summary(api_latencies)
    raw_rate, api_rate = count / raw_wall, count / api_wall
    print_table(
        f"bench/booking: {count} bookings, {clients} concurrent clients",
        [
            ("ceiling bookings/s", raw_rate),
            ("ceiling p50 ms", raw["p50_ms"]),
            ("ceiling p99 ms", raw["p99_ms"]),
            ("cvms bookings/s", api_rate),
            ("cvms p50 ms", api["p50_ms"]),
            ("cvms p99 ms", api["p99_ms"]),
            ("throughput ratio (target >= 0.50)", api_rate / raw_rate),
            ("p99 ratio (target <= 3.0)", api["p99_ms"] / raw["p99_ms"]),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main_async(args.bookings, args.clients))


if __name__ == "__main__":
    main()
