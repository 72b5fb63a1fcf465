"""A throwaway cvms stack for benchmarks: Temporal dev server, SMTP capture,
migrated SQLite database, worker, and the API on a real HTTP port."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from domain.payload_keys import new_key_spec
from domain.settings import Settings
from notifications.capture import ARRIVALS
from records.db import make_engine, make_sessionmaker
from records.migrate import upgrade
from services.temporal import data_converter
from worker.devserver import free_port, start_dev_server, wait_for_port
from worker.seed import seed


@dataclass
class Relay:
    """The SMTP capture server in a process of its own, as a real relay would be (in the
    benchmark's process it would take the GIL from the worker being measured)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    _read: int = 0
    _arrived: dict[str, float] | None = None

    def arrivals(self) -> dict[str, float]:
        """Arrival time (epoch seconds) of each first delivery, by recipient address."""
        if self._arrived is None:
            self._arrived = {}
        path = self.folder / ARRIVALS
        if path.exists():
            with path.open("rb") as log:
                log.seek(self._read)
                chunk = log.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._read += len(complete)
            for line in complete.splitlines():
                entry = json.loads(line)
                self._arrived.setdefault(entry["to"], entry["at"])
        return self._arrived


@dataclass
class Stack:
    settings: Settings
    temporal: Client
    smtp: Relay
    sessions: Any
    server_pid: int
    folder: Path

    def server_rss_mb(self) -> float:
        return rss_mb(self.server_pid)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextlib.asynccontextmanager
async def stack(**overrides: Any) -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="cvms-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        server = start_dev_server(db_file=folder / "temporal.db", port=port, log_file=folder / "temporal.log")
        smtp_port = free_port()
        relay = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "notifications.capture",
                "--folder",
                str(folder / "mail"),
                "--port",
                str(smtp_port),
            ],
            stdout=subprocess.DEVNULL,
        )
        smtp = Relay(smtp_port, folder / "mail", relay)
        try:
            wait_for_port("127.0.0.1", port, 60, server)
            wait_for_port("127.0.0.1", smtp_port, 30, relay)
            settings = Settings(
                # PostgreSQL when CVMS_BENCH_DATABASE_URL names one (an empty database), else SQLite.
                database_url=os.environ.get("CVMS_BENCH_DATABASE_URL")
                or f"sqlite+aiosqlite:///{folder}/cvms.db",
                temporal_address=f"127.0.0.1:{port}",
                temporal_task_queue=f"cvms-bench-{uuid.uuid4().hex[:6]}",
                smtp_port=smtp_port,
                secret_key="bench-secret-0123456789abcdef-0123456789",
                payload_keys=new_key_spec("bench"),
                public_base_url="http://cvms.bench",
                # Throughput is measured, not overload: requests wait for their answer.
                temporal_deadline_seconds=60,
                **overrides,
            )
            upgrade(settings.database_url)
            engine = make_engine(settings.database_url)
            sessions = make_sessionmaker(engine)
            await seed(sessions)
            client = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
            yield Stack(settings, client, smtp, sessions, server.pid, folder)
            await engine.dispose()
        finally:
            relay.terminate()
            relay.wait(timeout=30)
            server.terminate()
            server.wait(timeout=30)
