"""Booking and reminders on the Temporal dev server and on the Temporal cluster, with one and
with two API and worker processes: one table of figures and their ratios.

    python -m bench.cluster [--bookings 200] [--clients 20] [--burst 300] [--servers dev,cluster]

Every configuration runs the real processes (`cvms api`, `cvms worker`), the records on a
throwaway PostgreSQL database of its own, the SMTP capture server in a process of its own:
- dev: `temporal server start-dev` (one process, SQLite, one history shard);
- cluster: cluster/temporal_cluster.py (frontend, two history hosts, matching, worker on
  PostgreSQL, 4 shards), built with `make temporal-cluster-bin`.
Booking: POST /appointments over HTTP from `--clients` concurrent clients, spread over the APIs.
Reminders: `--burst` booked journeys whose reminders fall due in the same second; the drain rate
is reminders delivered per second from that instant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.booking import prepare_bookings, run_concurrently
from bench.common import summary
from bench.journeys import booked_journeys, start_journeys
from bench.reminders import LEAD_SECONDS, burst_dues
from bench.stack import Relay
from cluster import temporal_cluster
from domain.settings import Settings
from records.db import make_engine, make_sessionmaker
from records.migrate import upgrade
from services.temporal import data_converter
from tests.replicas import Replicas
from tests.run_suite import ADMIN_URL, _admin
from worker.devserver import free_port, start_dev_server, wait_for_port
from worker.seed import DEMO_PASSWORD, seed


@dataclass
class Records:
    """What bench/booking.py and bench/journeys.py need of a stack."""

    settings: Settings
    sessions: Any
    smtp: Relay
    temporal: Client


@contextlib.asynccontextmanager
async def temporal_server(kind: str, folder: Path) -> AsyncIterator[str]:
    if kind == "dev":
        port = free_port()
        server = start_dev_server(db_file=folder / "temporal.db", port=port, log_file=folder / "temporal.log")
        try:
            wait_for_port("127.0.0.1", port, 60, server)
            yield f"127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=30)
        return
    tag = uuid.uuid4().hex[:8]
    postgres = temporal_cluster.Postgres(database=f"tbench_{tag}", visibility_database=f"tbench_vis_{tag}")
    cluster = await asyncio.to_thread(
        temporal_cluster.bring_up, folder / "cluster", postgres=postgres, shift=temporal_cluster.free_shift()
    )
    try:
        yield cluster.address
    finally:
        cluster.stop_all()
        temporal_cluster.drop_databases(postgres)


@contextlib.asynccontextmanager
async def cvms_processes(
    address: str, processes: int, folder: Path
) -> AsyncIterator[tuple[Records, list[str]]]:
    name = f"cvms_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    host = ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
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
    settings = Settings(
        database_url=f"postgresql+asyncpg://{host}/{name}",
        temporal_address=address,
        temporal_task_queue=f"cvms-bench-{uuid.uuid4().hex[:6]}",
        smtp_port=smtp_port,
        secret_key="bench-secret-0123456789abcdef",
        public_base_url="http://cvms.bench",
    )
    replicas = Replicas(settings, logs=folder)
    engine = make_engine(settings.database_url)
    try:
        wait_for_port("127.0.0.1", smtp_port, 30, relay)
        await asyncio.to_thread(upgrade, settings.database_url)
        sessions = make_sessionmaker(engine)
        await seed(sessions)
        urls = [await asyncio.to_thread(replicas.start_api) for _ in range(processes)]
        for _ in range(processes):
            replicas.start_worker()
        client = await Client.connect(address, data_converter=data_converter(settings))
        yield Records(settings, sessions, Relay(smtp_port, folder / "mail", relay), client), urls
    finally:
        replicas.stop_all()
        relay.terminate()
        relay.wait(timeout=30)
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bookings(records: Records, urls: list[str], count: int, clients: int) -> dict[str, float]:
    recipient_ids, slot_id = await prepare_bookings(records, count)  # type: ignore[arg-type]
    apis = [httpx.AsyncClient(base_url=url, timeout=120) for url in urls]
    try:
        login = await apis[0].post("/auth/login", json={"login_name": "scheduler", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        key = uuid.uuid4().hex[:6]

        async def one(i: int) -> None:
            response = await apis[i % len(apis)].post(
                "/appointments",
                json={"recipient_id": recipient_ids[i], "slot_id": slot_id},
                headers={**headers, "Idempotency-Key": f"bench-{key}-{i}"},
            )
            assert response.status_code == 201, response.text

        await run_concurrently(5, 5, one)  # warm every process
        recipient_ids = recipient_ids[5:]
        latencies, wall = await run_concurrently(count - 5, clients, one)
    finally:
        for api in apis:
            await api.aclose()
    stats = summary(latencies)
    return {
        "bookings/s": (count - 5) / wall,
        "booking p50 ms": stats["p50_ms"],
        "booking p99 ms": stats["p99_ms"],
    }


async def reminders(records: Records, burst: int) -> dict[str, float]:
    dues = burst_dues(burst)
    tag = f"rem{uuid.uuid4().hex[:6]}"
    snapshots = await booked_journeys(
        records,  # type: ignore[arg-type]
        [datetime.fromtimestamp(d, UTC) for d in dues],
        lead_seconds=LEAD_SECONDS,
        tag=tag,
    )
    await start_journeys(records.temporal, snapshots, records.settings.temporal_task_queue)
    addresses = {f"{tag}-{i}@bench.test" for i in range(burst)}
    deadline = max(dues) + 60 + burst / 5
    while True:
        arrivals = records.smtp.arrivals()
        arrived = [arrivals[a] for a in addresses if a in arrivals]
        if len(arrived) == burst:
            break
        if time.time() > deadline:
            raise TimeoutError(f"only {len(arrived)} of {burst} reminders arrived")
        await asyncio.sleep(0.2)
    drained = max(arrived) - min(dues)
    stats = summary([a - dues[0] for a in arrived])
    return {"reminders/s": burst / drained, "reminder p99 ms": stats["p99_ms"]}


async def measure(kind: str, processes: int, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"cvms-bench-{kind}-") as tmp:
        folder = Path(tmp)
        async with temporal_server(kind, folder) as address:
            async with cvms_processes(address, processes, folder) as (records, urls):
                figures = await bookings(records, urls, args.bookings, args.clients)
                figures |= await reminders(records, args.burst)
    print(f"  {kind} x{processes}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), flush=True)
    return figures


def table(results: dict[tuple[str, int], dict[str, float]]) -> str:
    metrics = ["bookings/s", "booking p99 ms", "reminders/s", "reminder p99 ms"]
    lines = ["| configuration | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for (kind, processes), figures in results.items():
        lines.append(
            f"| {kind}, {processes} API + {processes} worker | "
            + " | ".join(f"{figures[m]:.1f}" for m in metrics)
            + " |"
        )

    def ratio(a: tuple[str, int], b: tuple[str, int], label: str) -> None:
        if a in results and b in results:
            cells = [f"{results[a][m] / results[b][m]:.2f}" for m in metrics]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for processes in (1, 2):
        ratio(("cluster", processes), ("dev", processes), f"cluster / dev server, x{processes}")
    for kind in ("dev", "cluster"):
        ratio((kind, 2), (kind, 1), f"two / one, {kind}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    results: dict[tuple[str, int], dict[str, float]] = {}
    for kind in args.servers.split(","):
        if kind == "cluster" and not temporal_cluster.built():
            temporal_cluster.build()
        for processes in (1, 2):
            results[(kind, processes)] = await measure(kind, processes, args)
    sizes = f"{args.bookings} bookings from {args.clients} clients; a burst of {args.burst} reminders"
    print(f"\nbench/cluster: {sizes}")
    print(table(results))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--servers", default="dev,cluster")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
