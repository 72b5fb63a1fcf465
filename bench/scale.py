"""Many open journeys waiting on their timers: what they cost in memory.

    python -m bench.scale [--journeys 10000]

Starts `--journeys` booked journeys (reminder a week ahead) on a throwaway stack,
with the worker in its own process (`cvms worker`), waits until every one has
set its timer, then prints the worker's and the Temporal server's resident memory
before and after, and the memory per journey. Target: worker <= 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from datetime import timedelta

from bench.common import print_table
from bench.journeys import booked_journeys, in_parallel, start_journeys
from bench.stack import Stack, rss_mb, stack
from records.db import utcnow
from tests.replicas import replica_environment

WEEK = 7 * 86400.0


async def timers_set(s: Stack, journey_ids: list[str]) -> bool:
    """True when each journey has finished its first workflow task (its timer is started)."""
    waiting = 0

    async def check(jid: str) -> None:
        nonlocal waiting
        described = await s.temporal.get_workflow_handle(jid).describe()
        if described.raw_description.workflow_execution_info.history_length < 5:
            waiting += 1

    await in_parallel(journey_ids, check)
    return waiting == 0


async def measure(s: Stack, count: int) -> list[tuple[str, object]]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "worker"],
        env=replica_environment(s.settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # A handful first, so both processes are warm and the baseline is an idle, working stack.
        warm = await booked_journeys(s, [utcnow() + timedelta(seconds=WEEK)] * 10, lead_seconds=0, tag="warm")
        await start_journeys(s.temporal, warm, s.settings.temporal_task_queue)
        while not await timers_set(s, [w.journey_id for w in warm]):
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)
        worker_before, server_before = rss_mb(worker.pid), s.server_rss_mb()

        snapshots = await booked_journeys(
            s, [utcnow() + timedelta(seconds=WEEK)] * count, lead_seconds=0, tag="scale"
        )
        started = time.perf_counter()
        await start_journeys(s.temporal, snapshots, s.settings.temporal_task_queue)
        start_seconds = time.perf_counter() - started
        # The last ones started are the last to run their first task: wait on a sample of them.
        sample = [snap.journey_id for snap in snapshots[-200:]]
        while not await timers_set(s, sample):
            await asyncio.sleep(1)
        settled_seconds = time.perf_counter() - started
        await asyncio.sleep(3)
        worker_after, server_after = rss_mb(worker.pid), s.server_rss_mb()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return [
        ("open journeys waiting on timers", count),
        ("started in s", start_seconds),
        ("journeys started per s", count / start_seconds),
        ("all timers set after s", settled_seconds),
        ("worker RSS before MB", worker_before),
        ("worker RSS after MB", worker_after),
        ("worker KB per journey", (worker_after - worker_before) * 1024 / count),
        ("server RSS before MB", server_before),
        ("server RSS after MB", server_after),
        ("server KB per journey", (server_after - server_before) * 1024 / count),
        ("target worker <= 500 MB", "met" if worker_after <= 500 else "MISSED"),
    ]


async def main_async(count: int) -> None:
    async with stack() as s:
        rows = await measure(s, count)
    print_table("bench/scale: memory of open journeys", rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main_async(args.journeys))


if __name__ == "__main__":
    main()
