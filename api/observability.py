"""Operators' signals of the API: /healthz, /readyz, /metrics, and the request middleware that
counts and times every request by its route template and writes one JSON log line for it."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import Public
from services import telemetry

log = logging.getLogger("cvms.api")
READY_TIMEOUT = timedelta(seconds=3)
router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[Public])
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Public])
async def readyz(request: Request) -> JSONResponse:
    """The database and Temporal answer: 200, or 503 naming what does not."""
    answers: dict[str, str] = {}
    try:
        async with request.app.state.sessions() as db:
            await db.execute(text("SELECT 1"))
        answers["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means: not ready
        answers["database"] = f"unavailable ({type(exc).__name__})"
    try:
        client = await request.app.state.temporal()
        await client.service_client.check_health(timeout=READY_TIMEOUT)
        answers["temporal"] = "ok"
    except Exception as exc:  # noqa: BLE001
        answers["temporal"] = f"unavailable ({type(exc).__name__})"
    ready = all(answer == "ok" for answer in answers.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **answers}, status_code=200 if ready else 503
    )


@router.get("/metrics", dependencies=[Public], include_in_schema=False)
async def metrics() -> Response:
    return Response(telemetry.metrics_text(), media_type=telemetry.CONTENT_TYPE)


class RequestSignals:
    """Pure ASGI middleware (the route's code runs in the same context, so what it notes is seen)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        context: dict[str, Any] = {"request_id": request_id}
        token = telemetry.REQUEST_CONTEXT.set(context)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            telemetry.HTTP_REQUESTS.labels(route, method, str(status)).inc()
            telemetry.HTTP_LATENCY.labels(route, method).observe(elapsed)
            if route not in ("/metrics", "/healthz", "/readyz", "/static"):
                log.info(
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                    },
                )
            telemetry.REQUEST_CONTEXT.reset(token)


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if 0 < len(given) <= 64 and given.replace("-", "").isalnum():
                return given
    return uuid.uuid4().hex


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_middleware(RequestSignals)
