"""The worker's signals for operators: domain counters from the activities it runs, and a small
HTTP port of its own (`CVMS_WORKER_HEALTH_PORT`) with /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from services import telemetry

log = logging.getLogger("cvms.worker")
READY_TIMEOUT = 3.0


def _count(activity_type: str, result: Any) -> None:
    """The domain counters an activity's result moves."""
    if activity_type == "book_appointment":
        telemetry.BOOKINGS.inc()
    elif activity_type == "document_dose":
        telemetry.DOSES_DOCUMENTED.inc()
    elif activity_type in ("send_email", "deliver_email"):
        if result is not None and getattr(result, "sent_now", False):
            telemetry.EMAILS_SENT.inc()
    elif activity_type == "offer_open_seats":
        telemetry.WAITLIST_OFFERS.inc(len(result or ()))


def _count_breaches(arguments: Any) -> None:
    for change in arguments:
        breaches = [event for event in getattr(change, "events", ()) if event.kind == "breach"]
        if breaches:
            telemetry.SLA_BREACHES.inc(len(breaches))


class CountingInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountingActivity(next)


class _CountingActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = getattr(input.fn, "__temporal_activity_definition").name  # noqa: B009
        try:
            result = await super().execute_activity(input)
        except ApplicationError as error:
            telemetry.ACTIVITIES.labels(name, "refused" if error.non_retryable else "failed").inc()
            if name in ("send_email", "deliver_email") and not error.non_retryable:
                telemetry.EMAILS_FAILED.inc()
            raise
        except Exception:
            telemetry.ACTIVITIES.labels(name, "failed").inc()
            if name in ("send_email", "deliver_email"):
                telemetry.EMAILS_FAILED.inc()
            raise
        telemetry.ACTIVITIES.labels(name, "completed").inc()
        _count(name, result)
        if name == "record_case_change":
            _count_breaches(input.args)
        return result


# ----------------------------------------------------------------------------- the port


async def readiness(engine: AsyncEngine, client: Client) -> tuple[bool, dict[str, str]]:
    """Does the database answer, and does Temporal? (the same check as the API's /readyz)"""

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def temporal() -> None:
        await client.service_client.check_health(timeout=timedelta(seconds=READY_TIMEOUT))

    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": database, "temporal": temporal}
    answers: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), READY_TIMEOUT)
            answers[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means: not ready
            answers[name] = f"unavailable ({type(exc).__name__})"
    return all(answer == "ok" for answer in answers.values()), answers


async def serve_health(port: int, engine: AsyncEngine, client: Client) -> asyncio.AbstractServer:
    """/healthz (the process answers), /readyz (database and Temporal answer), /metrics."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1").split()
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request_line[1].split("?", 1)[0] if len(request_line) > 1 else ""
            status, content_type, body = 404, "application/json", b'{"detail": "not found"}'
            if path == "/healthz":
                status, body = 200, b'{"status": "ok"}'
            elif path == "/readyz":
                ready, answers = await readiness(engine, client)
                status = 200 if ready else 503
                body = json.dumps({"status": "ready" if ready else "not ready", **answers}).encode()
            elif path == "/metrics":
                status, content_type, body = 200, telemetry.CONTENT_TYPE, telemetry.metrics_text()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port)
    log.info("worker health and metrics on port %s", port)
    return server
