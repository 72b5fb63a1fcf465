"""What operators see of a cvms process: Prometheus metrics, OpenTelemetry traces, JSON logs.

- Metrics: `prometheus_client` counters of the domain and HTTP, plus the Temporal SDK's own
  runtime metrics, which the SDK serves on a loopback port of its own that `metrics_text()`
  appends, so one `/metrics` shows both.
- Traces: the SDK's OpenTelemetry `TracingInterceptor` on every client (and so every worker)
  carries one trace from the API's request through Temporal into the activities. Spans go
  nowhere unless `CVMS_TRACES_FILE` names a file (JSON lines); no network is needed.
- Logs: one JSON object per line with the request id, the workflow id and the location code
  of the context they were written in; never a request body, query string or path parameter.
"""

from __future__ import annotations

import contextvars
import gc
import json
import logging
import socket
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from temporalio import activity, client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

CONTENT_TYPE = CONTENT_TYPE_LATEST

# ----------------------------------------------------------------------------- metrics

HTTP_REQUESTS = Counter(
    "cvms_http_requests_total",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "cvms_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BOOKINGS = Counter("cvms_bookings_total", "Appointments booked (staff, recipient links, waitlist offers)")
DOSES_DOCUMENTED = Counter("cvms_doses_documented_total", "Doses documented")
EMAILS_SENT = Counter("cvms_emails_sent_total", "Emails handed to the SMTP relay")
EMAILS_FAILED = Counter(
    "cvms_emails_failed_total", "Email delivery attempts that failed (retried by Temporal)"
)
SLA_BREACHES = Counter("cvms_sla_breaches_total", "Help-desk SLA breaches recorded")
WAITLIST_OFFERS = Counter("cvms_waitlist_offers_total", "Seats offered to waiting people")
ACTIVITIES = Counter(
    "cvms_activities_total", "Activity executions by type and outcome", ["activity", "outcome"]
)

GC_PAUSES = Histogram(
    "cvms_gc_pause_seconds",
    "Garbage-collector pauses by generation (every request of the process waits for one)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)


def settle_heap() -> None:
    """Once a process has started: what it built to start (modules, app, catalogs) moves out of
    the collector's reach (gc.freeze), so a full collection walks only what requests made. A full
    collection over the started API's ~260,000 objects took 150-240 ms here, a stall every
    request in flight waited through (the launch-day position page's p99). Pauses are measured."""
    gc.freeze()
    if _time_collections not in gc.callbacks:
        gc.callbacks.append(_time_collections)


_collection_started: list[float] = [0.0]


def _time_collections(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _collection_started[0] = time.perf_counter()
    else:
        GC_PAUSES.labels(str(info.get("generation", ""))).observe(
            time.perf_counter() - _collection_started[0]
        )


_sdk_metrics_port: int | None = None
_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sdk_runtime() -> Runtime:
    """The process's one Temporal runtime, exporting the SDK's metrics for Prometheus."""
    global _runtime, _sdk_metrics_port
    with _runtime_lock:
        if _runtime is None:
            port = _free_port()
            _runtime = Runtime(
                telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
            )
            _sdk_metrics_port = port
        return _runtime


def metrics_text() -> bytes:
    """This process's metrics in the Prometheus text format, the SDK's included once it runs."""
    ours = generate_latest()
    if _sdk_metrics_port is None:
        return ours
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{_sdk_metrics_port}/metrics", timeout=2) as answer:
            sdk: bytes = answer.read()
            return ours + b"\n" + sdk
    except OSError:
        return ours


# ----------------------------------------------------------------------------- traces


def tracing_interceptors() -> list[Any]:
    """The SDK's OpenTelemetry interceptor (client and worker sides), on the process's provider."""
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def configure_tracing(traces_file: Path | None) -> None:
    """Installs the process's tracer provider; spans are written as JSON lines to `traces_file`.

    Without a file no provider is installed: spans are then OpenTelemetry's non-recording ones
    (the trace context a request brings still passes on). A recording provider with nowhere to
    send its spans cost the worker about 1 ms of CPU per booking for spans it dropped."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    if traces_file is None or isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": "cvms"}))
    out = open(traces_file, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    provider.add_span_processor(
        SimpleSpanProcessor(
            ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
        )
    )
    trace.set_tracer_provider(provider)


# ----------------------------------------------------------------------------- logs

# The request being served: {"request_id", "location", "workflow_ids"}; a mutable dict so that
# what the route's code notes is seen by the middleware that logs the request at its end.
REQUEST_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "cvms_request_context", default=None
)


def note(**facts: Any) -> None:
    """Adds facts (location, a workflow id) to the request being served, if any."""
    context = REQUEST_CONTEXT.get()
    if context is None:
        return
    workflow_id = facts.pop("workflow_id", None)
    if workflow_id:
        context.setdefault("workflow_ids", []).append(workflow_id)
    context.update({key: value for key, value in facts.items() if value is not None})


_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids of the context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = REQUEST_CONTEXT.get()
        if context:
            entry["request_id"] = context.get("request_id")
            if context.get("location"):
                entry["location"] = context["location"]
            if context.get("workflow_ids"):
                entry["workflow_id"] = context["workflow_ids"][-1]
        if activity.in_activity():
            info = activity.info()
            entry["workflow_id"] = info.workflow_id
            entry["activity"] = info.activity_type
        entry.update({key: value for key, value in vars(record).items() if key not in _RESERVED})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on standard error for the whole process (uvicorn's loggers included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints the raw path and query (tokens, names): cvms logs requests itself.
    logging.getLogger("uvicorn.access").disabled = True


# ----------------------------------------------------------------------------- workflow ids


class NoteWorkflowIds(client.Interceptor):
    """Notes every workflow a request starts, updates, signals or queries, for its log line."""

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _NotingOutbound(next)


class _NotingOutbound(client.OutboundInterceptor):
    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        note(workflow_id=input.id)
        return await super().start_workflow(input)

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:
        note(workflow_id=input.id)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(self, input: client.StartWorkflowUpdateWithStartInput) -> Any:
        note(workflow_id=input.start_workflow_input.id)
        return await super().start_update_with_start_workflow(input)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:
        note(workflow_id=input.id)
        await super().signal_workflow(input)

    async def query_workflow(self, input: client.QueryWorkflowInput) -> Any:
        note(workflow_id=input.id)
        return await super().query_workflow(input)


def client_interceptors() -> list[Any]:
    return [*tracing_interceptors(), NoteWorkflowIds()]
