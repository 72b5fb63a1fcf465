"""Histories recorded by earlier code (tests/histories/, written by tests/record_histories.py) replay
against the current workflow code: a change that would break a running workflow fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from domain.settings import Settings
from services.temporal import data_converter
from tests.conftest import TEST_PAYLOAD_KEYS
from worker import registry

HISTORIES = Path(__file__).parent / "histories"


def _name(workflow: type) -> str:
    return workflow.__temporal_workflow_definition.name  # type: ignore[attr-defined]


def _recorded() -> dict[str, list[WorkflowHistory]]:
    """Workflow type -> its recorded histories."""
    by_type: dict[str, list[WorkflowHistory]] = {}
    for path in sorted(HISTORIES.glob("*.json")):
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        kind = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        by_type.setdefault(kind, []).append(history)
    return by_type


RECORDED = _recorded()


def test_every_recorded_history_is_of_a_registered_workflow_type():
    assert set(RECORDED) <= {_name(w) for w in registry.workflows()}, sorted(RECORDED)


@pytest.mark.parametrize("workflow", registry.workflows(), ids=_name)
async def test_recorded_histories_of_each_workflow_type_replay(workflow: type):
    histories = RECORDED.get(_name(workflow))
    assert histories, f"no history of {_name(workflow)} in {HISTORIES}: python -m tests.record_histories"
    # With the payload codec every process has: histories recorded before encryption replay too.
    converter = data_converter(Settings(payload_keys=TEST_PAYLOAD_KEYS))
    # Workflows the worker runs outside the sandbox for speed (the journey) replay inside it here,
    # so the sandbox's checks (no wall clock, no I/O, no randomness) still hold their code.
    replayer = Replayer(
        workflows=registry.workflows(),
        data_converter=converter,
        unsandboxed_workflow_runner=SandboxedWorkflowRunner(),
    )
    for history in histories:
        await replayer.replay_workflow(history)  # raises on nondeterminism
