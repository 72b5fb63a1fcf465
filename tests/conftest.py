"""Shared fixtures: a real Temporal dev server, a real SMTP capture server, a real
database (SQLite file, or PostgreSQL when CVMS_TEST_DATABASE_URL names one),
one worker, and the API over ASGI — started once per test session."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter

from api.app import create_app
from domain.settings import Settings
from notifications.capture import CaptureServer
from records.db import make_engine, make_sessionmaker
from records.migrate import upgrade
from services.temporal import data_converter
from tests.replay import replay_every_namespace
from worker.devserver import free_port, start_dev_server, wait_for_port
from worker.main import build_worker
from worker.seed import DEMO_PASSWORD, seed

T = TypeVar("T")
# The payload keys of the test stack: an older key that still opens, and the current one that seals.
TEST_PAYLOAD_KEYS = (
    "test-2:"
    + base64.b64encode(b"cvms test payload key, current..").decode()
    + ",test-1:"
    + base64.b64encode(b"cvms test payload key, older..!!").decode()
)

# The browser tests' fixtures (live HTTP server, headless Chromium) live beside this file.
pytest_plugins = ["tests.browser_fixtures"]


# Tests `make test-fast` leaves out, by node id prefix under tests/ (pyproject.toml registers the
# markers). faults: a process killed or restarted, a relay down. slow: 5 s or more on its own
# (measured with --durations; 10 s and more on a busy 2-core machine). `browser`: every test
# that uses the `browser` fixture.
MARKED = {
    "faults": (
        "test_faults.py::",
        "test_outages.py::",
        "test_replicas.py::",
        "test_journey_durability.py::test_a_series_completes_after_its_worker_stops_mid_series",
        "test_waitlist.py::test_an_offer_running_out_while_the_worker_is_down",
        "test_helpdesk.py::test_a_mail_relay_outage_does_not_delay_escalation",
    ),
    "slow": (
        "test_journey.py::",
        "test_api_fuzz.py::",
        "test_helpdesk.py::test_a_case_pending_before_its_target_does_not_breach",
        "test_helpdesk.py::test_a_case_runs_its_whole_life_through_the_api",
        "test_helpdesk.py::test_a_missed_first_response_escalates_to_the_team",
        "test_helpdesk.py::test_the_queue_puts_the_oldest_breach_first",
        "test_helpdesk_channels.py::test_a_reply_by_case_tag_reopens_a_resolved_case",
        "test_waitlist.py::test_a_cancelled_seat_goes_to_the_waitlist_expires",
        "test_exports.py::test_cvms_export_command_writes_what_the_registry_reads",
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        node = item.nodeid.removeprefix("tests/")
        for marker, prefixes in MARKED.items():
            if node.startswith(prefixes):
                item.add_marker(getattr(pytest.mark, marker))
    # The cluster tests need the built Temporal server and PostgreSQL: run_suite's own phase
    # (CVMS_TEST_CLUSTER=1) runs them; every other run leaves them out.
    if not os.environ.get("CVMS_TEST_CLUSTER"):
        cluster = [item for item in items if item.get_closest_marker("cluster")]
        if cluster:
            config.hook.pytest_deselected(items=cluster)
            items[:] = [item for item in items if not item.get_closest_marker("cluster")]


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cvms")


@pytest.fixture(scope="session")
def temporal_address(state_dir: Path) -> Any:
    port = free_port()
    server = start_dev_server(
        db_file=state_dir / "temporal.db", port=port, log_file=state_dir / "temporal.log"
    )
    try:
        wait_for_port("127.0.0.1", port, 60, server)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except Exception:  # noqa: BLE001
            server.kill()


@pytest.fixture(scope="session")
async def smtp(state_dir: Path) -> AsyncIterator[CaptureServer]:
    server = CaptureServer(state_dir / "mail", port=free_port())
    server.start()
    yield server
    server.stop()


def _database_url(state_dir: Path) -> str:
    return os.environ.get("CVMS_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{state_dir}/cvms.db"


@pytest.fixture(scope="session")
def settings(state_dir: Path, temporal_address: str, smtp: CaptureServer) -> Settings:
    return Settings(
        database_url=_database_url(state_dir),
        temporal_address=temporal_address,
        temporal_task_queue=f"cvms-test-{uuid.uuid4().hex[:8]}",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from="cvms test <no-reply@cvms.test>",
        public_base_url="http://cvms.test",
        secret_key="test-secret-key-0123456789abcdef",
        payload_keys=TEST_PAYLOAD_KEYS,
        temporal_ui_origins="http://temporal-ui.test",
        day_seconds=float(os.environ.get("CVMS_TEST_DAY_SECONDS", "2")),
        reminder_lead_seconds=float(os.environ.get("CVMS_TEST_DAY_SECONDS", "2")) / 2,
        # Seat holds and waitlist offers run out in seconds, so tests watch them expire.
        seat_hold_seconds=3,
        waitlist_offer_hold_seconds=6,
        # Background CSV uploads go a few rows at a time with a pause, so their progress shows.
        upload_chunk_rows=5,
        upload_chunk_pause_seconds=0.4,
        dev_stack=True,
        # Many tests log in wrongly on purpose from one address; test_login_throttle uses the real limit.
        login_max_failures=1000,
        # The whole suite books from one address; test_self_scheduling checks the limit itself.
        self_registration_per_address="100000/hour",
        # The finder tests look at changes at once (a published location appears, an unpublished goes).
        finder_server_cache_seconds=0,
        waiting_room_refresh_seconds=0,
        # The suite shares 2 cores with its Temporal server, workers and crowds of requests: a
        # longer deadline than production's keeps a slow moment from reading as an outage.
        # The outage tests (test_outages.py) set their own short one.
        temporal_deadline_seconds=15,
        state_dir=state_dir,
    )


@pytest.fixture(scope="session")
async def sessions(settings: Settings) -> AsyncIterator[Any]:
    if settings.database_url.startswith("postgresql"):
        await _reset_postgres(settings.database_url)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)
    await seed(factory)
    yield factory
    await engine.dispose()


async def _reset_postgres(url: str) -> None:
    """A clean schema for the run: the test database is the run's own."""
    from sqlalchemy import text

    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def connect_when_ready(address: str, converter: DataConverter, timeout: float = 60.0) -> Client:
    """A client of a dev server that has just opened its port: its frontend answers "not healthy
    yet" for a moment (longer on a busy machine), so connect again until it answers."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await Client.connect(address, data_converter=converter)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
async def temporal(temporal_address: str, settings: Settings) -> Client:
    return await connect_when_ready(temporal_address, data_converter(settings))


@pytest.fixture(scope="session")
async def every_history_replays_at_the_end(temporal_address: str, settings: Settings) -> AsyncIterator[None]:
    """Session-end check: every workflow the suite recorded, in every namespace, closed or
    running, replays against the current workflow code without nondeterminism."""
    yield
    reports = await replay_every_namespace(temporal_address, data_converter(settings))
    failures = {ns: report.failures for ns, report in reports.items() if report.failures}
    assert not failures, f"histories that no longer replay: {failures}"
    unknown = {ns: report.unknown_types for ns, report in reports.items() if report.unknown_types}
    assert not unknown, f"workflows of types the worker does not register: {unknown}"
    # (A run that started no workflow has nothing to replay; tests/test_history_replay.py keeps
    # the check itself honest with recorded histories.)


@pytest.fixture(scope="session")
async def worker(
    temporal: Client, settings: Settings, sessions: Any, every_history_replays_at_the_end: None
) -> AsyncIterator[Any]:
    running = build_worker(temporal, settings)
    async with running:
        yield running


@pytest.fixture(scope="session")
async def app(settings: Settings, temporal: Client, sessions: Any, worker: Any) -> Any:
    return create_app(settings, temporal)


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as client:
        yield client


async def login(api: httpx.AsyncClient, login_name: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """Logs in and returns the bearer header for that user."""
    response = await api.post("/auth/login", json={"login_name": login_name, "password": password})
    assert response.status_code == 200, response.text
    api.cookies.clear()  # tests speak bearer; cookies would leak between users
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def as_user(api: httpx.AsyncClient) -> Callable[[str], Awaitable[dict[str, str]]]:
    async def _login(login_name: str) -> dict[str, str]:
        return await login(api, login_name)

    return _login


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Polls an async check until it returns something truthy, or fails at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
