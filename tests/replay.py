"""Replays recorded workflow histories against the current workflow code (temporalio's Replayer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.api.workflowservice.v1 import ListNamespacesRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from worker import registry


@dataclass
class ReplayReport:
    replayed: int
    failures: dict[str, str]  # workflow id -> what went wrong
    unknown_types: set[str]  # recorded by something that is not a cvms workflow


async def replay_histories(client: Client, workflow_ids: list[tuple[str, str | None]]) -> ReplayReport:
    """Fetches each (workflow id, run id or None for the latest run) history and replays it."""
    known = {w.__temporal_workflow_definition.name for w in registry.workflows()}  # type: ignore[attr-defined]
    gate = asyncio.Semaphore(20)

    async def fetch(workflow_id: str, run_id: str | None) -> WorkflowHistory:
        async with gate:
            return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()

    histories = await asyncio.gather(*(fetch(i, r) for i, r in workflow_ids))
    unknown = set()
    replayable = []
    for history in histories:
        kind = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        if kind in known:
            replayable.append(history)
        else:
            unknown.add(kind)

    async def recorded() -> AsyncIterator[WorkflowHistory]:
        for history in replayable:
            yield history

    replayer = Replayer(
        workflows=registry.workflows(),
        data_converter=client.data_converter,
        # A busy machine can hold a replay past the deadlock timer; it proves nothing about determinism.
        debug_mode=True,
    )
    results = await replayer.replay_workflows(recorded(), raise_on_replay_failure=False)
    failures = {
        run_id: f"{type(error).__name__}: {error}" for run_id, error in results.replay_failures.items()
    }
    return ReplayReport(len(replayable), failures, unknown)


async def replay_every_namespace(address: str, converter: DataConverter) -> dict[str, ReplayReport]:
    """Every workflow, closed or running, in every namespace of the server at `address`."""
    admin = await Client.connect(address)
    namespaces = await admin.workflow_service.list_namespaces(ListNamespacesRequest(page_size=100))
    reports = {}
    for described in namespaces.namespaces:
        name = described.namespace_info.name
        if name.startswith("temporal-"):
            continue  # the server's own (temporal-system)
        client = await Client.connect(address, namespace=name, data_converter=converter)
        ids = [(e.id, e.run_id) async for e in client.list_workflows()]
        reports[name] = await replay_histories(client, ids)
    return reports
