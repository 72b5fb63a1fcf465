"""schemathesis over the whole OpenAPI schema, logged in as a manager, against a
real HTTP server with its own database and worker (so fuzzed writes cannot
disturb other tests): no 5xx, and every error is JSON with a message.

Hypothesis-generated bad input against the write endpoints changes nothing in
the database (tests/test_bad_input.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from google.protobuf.duration_pb2 import Duration
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from bench.common import serve_in_thread
from domain.settings import Settings
from records.db import make_engine, make_sessionmaker
from records.migrate import upgrade
from services.temporal import connect
from worker.devserver import free_port
from worker.main import build_worker
from worker.seed import DEMO_PASSWORD, seed

FUZZ_NAMESPACE = "cvms-fuzz"
# Routes that would end the fuzzing session itself.
SKIPPED = {("POST", "/auth/logout")}


@pytest.fixture(scope="session")
def fuzz_settings(settings: Settings, state_dir: Path) -> Settings:
    return settings.model_copy(
        update={
            "database_url": f"sqlite+aiosqlite:///{state_dir}/fuzz.db",
            "temporal_task_queue": f"cvms-fuzz-{uuid.uuid4().hex[:8]}",
            # Workflow IDs and Message-IDs come from record ids (email-user-7:…, case-1001), which
            # this database hands out again: its own namespace and mail domain keep them apart
            # from the main suite's (the capture server drops a repeated Message-ID).
            "temporal_namespace": FUZZ_NAMESPACE,
            "mail_from": "cvms fuzz <no-reply@fuzz.cvms.test>",
            "day_seconds": 86400.0,  # no timers fire while fuzzing
        }
    )


@pytest.fixture(scope="session")
async def fuzz_world(fuzz_settings: Settings, temporal: Any) -> AsyncIterator[Settings]:
    upgrade(fuzz_settings.database_url)
    engine = make_engine(fuzz_settings.database_url)
    await seed(make_sessionmaker(engine))
    await engine.dispose()
    try:
        await temporal.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=FUZZ_NAMESPACE, workflow_execution_retention_period=Duration(seconds=86400)
            )
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    async with build_worker(await connect(fuzz_settings), fuzz_settings):
        yield fuzz_settings


@pytest.fixture(scope="session")
def fuzz_server(fuzz_world: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(fuzz_world), free_port()) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def fuzz_headers(fuzz_server: str) -> dict[str, str]:
    response = httpx.post(
        f"{fuzz_server}/auth/login", json={"login_name": "manager", "password": DEMO_PASSWORD}
    )
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture(scope="session")
def api_schema(fuzz_server: str) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")


def test_no_operation_answers_5xx_and_errors_are_json(
    api_schema: Any, fuzz_server: str, fuzz_headers: dict
) -> None:
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            response = case.call(base_url=fuzz_server, headers=fuzz_headers, timeout=30)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text[:500]}"
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body.get("detail"), str) and body["detail"], f"{where}: {response.text}"

        call()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 10, checked
