"""Operators' signals: health and readiness, Prometheus metrics moved by a booking, and a JSON
log line of the booking that carries its ids and no personal data."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from records.db import make_engine
from services.telemetry import JsonFormatter
from services.temporal import connect
from tests.conftest import login
from tests.journeys import book, new_product, new_recipient, publish_slot
from worker.devserver import free_port
from worker.observability import serve_health


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if match and match[1] == name:
            found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if found == wanted:
                return float(match[3])
    return 0.0


async def test_health_and_readiness_answer(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "database": "ok", "temporal": "ok"}


async def test_metrics_after_a_booking_show_the_booking_counter_and_the_request_histogram_moved(
    api, sessions, worker
):
    manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=2, product=product)
    recipient = await new_recipient(sessions)
    before = (await api.get("/metrics")).text
    booked = await book(api, scheduler, recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    after = (await api.get("/metrics")).text

    histogram = {"route": "/appointments", "method": "POST"}
    assert metric(after, "cvms_bookings_total") == metric(before, "cvms_bookings_total") + 1
    assert (
        metric(after, "cvms_http_request_duration_seconds_count", **histogram)
        == metric(before, "cvms_http_request_duration_seconds_count", **histogram) + 1
    )
    assert metric(after, "cvms_http_requests_total", status="201", **histogram) >= 1


@pytest.fixture
async def connected_api(settings, sessions, worker) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a client made as `cvms api` makes it (services.temporal.connect): SDK runtime
    metrics, the tracing interceptor and the workflow-id notes of the log lines."""
    app = create_app(settings, await connect(settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cvms.test"
    ) as client:
        yield client


async def test_the_sdk_runtime_metrics_are_on_the_same_page(connected_api):
    await connected_api.get("/readyz")
    text = (await connected_api.get("/metrics")).text
    assert "cvms_http_requests_total" in text
    assert re.search(r"^temporal_request\w*\{", text, re.M), "the Temporal SDK's own metrics"


async def test_a_bookings_log_line_carries_its_ids_and_no_personal_data(connected_api, sessions):
    api = connected_api
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cvms.api")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        scheduler = await login(api, "scheduler")
        manager = await login(api, "manager")
        product = await new_product(sessions)
        slot = await publish_slot(api, manager, start_in=3600, capacity=2, product=product)
        recipient = await new_recipient(sessions, first_name="Marisol")
        booked = await book(api, scheduler, recipient.id, slot["id"])
        assert booked.status_code == 201, booked.text
    finally:
        logger.removeHandler(handler)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    line = next(e for e in lines if e.get("route") == "/appointments" and e.get("method") == "POST")
    assert line["status"] == 201
    assert line["request_id"] == booked.headers["x-request-id"]
    assert line["location"] == "WAKE-01"
    assert line["workflow_id"].startswith("journey-")
    text = out.getvalue()
    token = scheduler["Authorization"].split()[1]
    for personal in (recipient.first_name, recipient.last_name, recipient.email, "1970-05-17", token):
        assert personal not in text, personal


async def test_the_worker_port_answers_health_readiness_and_metrics(settings, temporal, worker):
    engine = make_engine(settings.database_url)
    port = free_port()
    server = await serve_health(port, engine, temporal)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["temporal"] == "ok", ready.text
            assert "cvms_emails_sent_total" in (await http.get("/metrics")).text
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
        await engine.dispose()


async def test_a_database_that_refuses_connections_is_a_503_not_a_500(settings, temporal, sessions):
    """The database full or restarting: the request did nothing and may be repeated."""
    unreachable = settings.model_copy(update={"database_url": "postgresql+asyncpg://cvms@127.0.0.1:1/cvms"})
    app = create_app(unreachable, temporal)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as client:
        answer = await client.post("/auth/login", json={"login_name": "manager", "password": "x"})
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "database_unavailable"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["database"].startswith("unavailable")


def test_a_started_process_keeps_its_start_up_heap_out_of_the_collectors_way():
    """settle_heap (the API's start, the worker's) freezes what start-up built, so a full
    collection walks only what came after, and times every collection for /metrics."""
    import gc

    from services import telemetry

    telemetry.settle_heap()
    assert gc.get_freeze_count() > 10_000
    full = telemetry.GC_PAUSES.labels("2")
    before = full._sum.get()
    gc.collect()
    assert full._sum.get() > before
    assert b"cvms_gc_pause_seconds_bucket" in telemetry.metrics_text()
