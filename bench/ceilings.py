"""Raw Temporal doing the same round trips as cvms, with nothing else: the ceilings
the benchmarks compare cvms against, in the same run on the same server."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class TrivialInput:
    key: str
    due_epoch: float = 0.0


@activity.defn
async def trivial_activity(item: TrivialInput) -> float:
    """Does nothing but report when it ran (for lateness)."""
    return time.time()


@workflow.defn
class CeilingBookingWorkflow:
    """A workflow whose Update runs one trivial activity: a booking's round trips."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, item: TrivialInput) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    async def book(self, item: TrivialInput) -> float:
        result = await workflow.execute_activity(
            trivial_activity, item, start_to_close_timeout=timedelta(seconds=30)
        )
        self.done = True
        return result


@workflow.defn
class CeilingReminderWorkflow:
    """Sleeps until the due instant, then runs one trivial activity: a reminder's round trips."""

    @workflow.run
    async def run(self, item: TrivialInput) -> float:
        delay = item.due_epoch - workflow.now().timestamp()
        if delay > 0:
            await workflow.sleep(delay)
        return await workflow.execute_activity(
            trivial_activity, item, start_to_close_timeout=timedelta(seconds=30)
        )


async def _serve_ceiling(task_queue: str) -> None:
    """The ceiling's worker in a process of its own, as cvms's worker is: connected as cvms
    connects (same data converter), until terminated."""
    import asyncio

    from temporalio.worker import Worker

    from domain.settings import load_settings
    from services.temporal import connect

    client = await connect(load_settings())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CeilingBookingWorkflow, CeilingReminderWorkflow],
        activities=[trivial_activity],
    ):
        print("polling", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(_serve_ceiling(sys.argv[1]))
