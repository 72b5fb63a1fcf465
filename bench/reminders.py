"""Reminder lateness: when the email reaches the SMTP server, minus the instant it was due.

    python -m bench.reminders [--burst 1000] [--steady 300]

Two shapes, each measured for raw Temporal and for cvms in the same run, one after
the other on the same server:

- burst: `--burst` reminders all due in the same second. Ceiling: workflows that
  sleep until that instant and run one trivial activity. cvms: booked journeys
  whose reminder falls due then (timer, compose the message, deliver it over SMTP).
  Prints how long each takes to drain and the rate. Target: cvms >= 70 % of the
  ceiling's rate.
- steady: `--steady` reminders falling due evenly at half the ceiling's burst rate.
  Target: cvms p99 lateness <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.worker import Worker

from bench.ceilings import CeilingReminderWorkflow, TrivialInput, trivial_activity
from bench.common import print_table, summary
from bench.journeys import booked_journeys, in_parallel, start_journeys
from bench.stack import Stack, stack
from worker.main import build_worker

LEAD_SECONDS = 600.0  # the appointment is 10 minutes after its reminder


@dataclass
class Outcome:
    lateness: list[float]  # seconds after the due instant, one per reminder
    drained_after: float  # last completion minus the first due instant
    setup_spare: float  # seconds left between the end of setup and the first due instant

    @property
    def rate(self) -> float:
        return len(self.lateness) / max(self.drained_after, 1e-9)


def first_due(count: int) -> float:
    """Far enough ahead to start `count` workflows first (starts run at roughly 85/s on 2 cores)."""
    return time.time() + 8 + count / 30


def outcome(dues: list[float], done: list[float], setup_done: float) -> Outcome:
    return Outcome(
        lateness=[d - due for d, due in zip(done, dues, strict=True)],
        drained_after=max(done) - min(dues),
        setup_spare=min(dues) - setup_done,
    )


async def ceiling(s: Stack, dues: list[float]) -> Outcome:
    queue = f"ceiling-reminders-{uuid.uuid4().hex[:6]}"
    run = uuid.uuid4().hex[:6]
    handles: dict[int, object] = {}

    async def start(i: int) -> None:
        handles[i] = await s.temporal.start_workflow(
            CeilingReminderWorkflow.run,
            TrivialInput(key=str(i), due_epoch=dues[i]),
            id=f"ceiling-reminder-{run}-{i}",
            task_queue=queue,
        )

    done: dict[int, float] = {}

    async def result(i: int) -> None:
        done[i] = await handles[i].result()  # type: ignore[attr-defined]

    async with Worker(
        s.temporal, task_queue=queue, workflows=[CeilingReminderWorkflow], activities=[trivial_activity]
    ):
        await in_parallel(range(len(dues)), start)
        setup_done = time.time()
        await in_parallel(range(len(dues)), result)
    return outcome(dues, [done[i] for i in range(len(dues))], setup_done)


async def cvms(s: Stack, dues: list[float]) -> Outcome:
    tag = f"rem{uuid.uuid4().hex[:6]}"
    snapshots = await booked_journeys(
        s, [datetime.fromtimestamp(d, UTC) for d in dues], lead_seconds=LEAD_SECONDS, tag=tag
    )
    await start_journeys(s.temporal, snapshots, s.settings.temporal_task_queue)
    setup_done = time.time()
    deadline = max(dues) + 60 + len(dues) / 5
    addresses = {i: f"{tag}-{i}@bench.test" for i in range(len(dues))}
    arrived: dict[int, float] = {}
    while len(arrived) < len(dues):
        arrivals = s.smtp.arrivals()
        arrived = {i: arrivals[a] for i, a in addresses.items() if a in arrivals}
        if time.time() > deadline:
            raise TimeoutError(f"only {len(arrived)} of {len(dues)} reminders arrived")
        await asyncio.sleep(0.2)
    return outcome(dues, [arrived[i] for i in range(len(dues))], setup_done)


def burst_dues(count: int) -> list[float]:
    due = float(int(first_due(count)))
    return [due] * count


def steady_dues(count: int, rate: float) -> list[float]:
    start = first_due(count)
    return [start + i / rate for i in range(count)]


def rows_for(label: str, o: Outcome) -> list[tuple[str, object]]:
    stats = summary(o.lateness)
    rows: list[tuple[str, object]] = [
        (f"{label} lateness p50 ms", stats["p50_ms"]),
        (f"{label} lateness p99 ms", stats["p99_ms"]),
        (f"{label} drained in s", o.drained_after),
        (f"{label} reminders/s", o.rate),
    ]
    if o.setup_spare < 1:
        rows.append((f"{label} WARNING", f"setup overran the first due instant by {-o.setup_spare:.1f}s"))
    return rows


async def measure(s: Stack, burst: int, steady: int) -> list[tuple[str, object]]:
    async with build_worker(s.temporal, s.settings):
        await ceiling(s, burst_dues(5))  # warm both paths so neither pays first-use costs
        await cvms(s, burst_dues(5))
        raw_burst = await ceiling(s, burst_dues(burst))
        cvms_burst = await cvms(s, burst_dues(burst))
        rate = raw_burst.rate / 2
        raw_steady = await ceiling(s, steady_dues(steady, rate))
        cvms_steady = await cvms(s, steady_dues(steady, rate))
    steady_p99 = summary(cvms_steady.lateness)["p99_ms"]
    return [
        (f"burst: {burst} reminders due in one second", ""),
        *rows_for("ceiling burst", raw_burst),
        *rows_for("cvms burst", cvms_burst),
        ("burst drain-rate ratio (target >= 0.70)", cvms_burst.rate / raw_burst.rate),
        (f"steady: {steady} reminders at {rate:.1f}/s (half the ceiling's burst rate)", ""),
        *rows_for("ceiling steady", raw_steady),
        *rows_for("cvms steady", cvms_steady),
        ("steady p99 ratio", steady_p99 / summary(raw_steady.lateness)["p99_ms"]),
        ("target cvms steady p99 <= 1000 ms", "met" if steady_p99 <= 1000 else "MISSED"),
    ]


async def main_async(burst: int, steady: int) -> None:
    async with stack() as s:
        rows = await measure(s, burst, steady)
    print_table("bench/reminders: lateness = SMTP arrival - due instant", rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--steady", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main_async(args.burst, args.steady))


if __name__ == "__main__":
    main()
