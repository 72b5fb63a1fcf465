"""Faults on the real parts: the mail relay down for a while, the Temporal server
restarted under running work. Nothing owed is lost and nothing is sent twice."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from notifications.capture import CaptureServer
from records.db import transaction
from records.outbox import OutboxMessage
from tests.conftest import eventually, login
from worker.devserver import free_port, start_dev_server, wait_for_port
from worker.main import build_worker
from worker.settings import Settings


async def add_users(api: httpx.AsyncClient, headers: dict, count: int) -> list[str]:
    tag = f"fault{uuid.uuid4().hex[:6]}"
    emails = []
    for i in range(count):
        login_name = f"{tag}.{i}"
        emails.append(f"{login_name}@clinic.example")
        response = await api.post(
            "/location/users",
            json={
                "first_name": "Fault",
                "last_name": "Tolerant",
                "email": emails[-1],
                "login_name": login_name,
                "role": "provider",
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
    return emails


async def failed_attempts(sessions: Any, emails: list[str]) -> bool:
    async with transaction(sessions) as db:
        rows = (
            (await db.execute(select(OutboxMessage).where(OutboxMessage.to_address.in_(emails))))
            .scalars()
            .all()
        )
        return len(rows) == len(emails) and all(r.last_error and r.sent_at is None for r in rows)


async def all_sent(sessions: Any, emails: list[str]) -> bool:
    async with transaction(sessions) as db:
        rows = (
            (await db.execute(select(OutboxMessage).where(OutboxMessage.to_address.in_(emails))))
            .scalars()
            .all()
        )
        return len(rows) == len(emails) and all(r.sent_at is not None for r in rows)


def isolated(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": f"cvms-fault-{uuid.uuid4().hex[:6]}", **update})


async def test_mail_relay_outage_delivers_every_owed_email_once_afterwards(
    settings, temporal, sessions, state_dir
):
    port = free_port()
    relay = CaptureServer(state_dir / f"relay-{port}", port=port)  # not started: the relay is down
    outage = isolated(settings, smtp_port=port)
    async with build_worker(temporal, outage):
        app = create_app(outage, temporal)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cvms.test"
        ) as api:
            emails = await add_users(api, await login(api, "manager"), 3)
        # The API answered although the relay is down; delivery failed and is being retried.
        await eventually(
            lambda: failed_attempts(sessions, emails), timeout=30, what="failed delivery attempts"
        )
        relay.start()  # the relay comes back
        try:
            for email in emails:
                await relay.wait_for(lambda m, e=email: m["To"] == e, timeout=60)
            await eventually(lambda: all_sent(sessions, emails), timeout=30, what="outbox marked sent")
            assert sorted(m["To"] for m in relay.messages) == sorted(emails)
            assert relay.store.duplicates() == {}
        finally:
            relay.stop()


async def test_temporal_server_restart_under_running_work_loses_nothing(
    settings, sessions, state_dir: Path, smtp
):
    """A dedicated dev server (its own SQLite file) is stopped and started again
    while deliveries are pending; they complete, each once."""
    port = free_port()
    db_file = state_dir / f"temporal-restart-{port}.db"
    server = start_dev_server(db_file=db_file, port=port, log_file=state_dir / "temporal-restart.log")
    relay_port = free_port()
    relay = CaptureServer(state_dir / f"relay-{relay_port}", port=relay_port)  # down until after the restart
    try:
        wait_for_port("127.0.0.1", port, 60, server)
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        restart = isolated(settings, temporal_address=f"127.0.0.1:{port}", smtp_port=relay_port)
        async with build_worker(client, restart):
            app = create_app(restart, client)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://cvms.test"
            ) as api:
                emails = await add_users(api, await login(api, "manager"), 3)
            await eventually(lambda: failed_attempts(sessions, emails), timeout=30, what="pending deliveries")

            server.terminate()
            server.wait(timeout=30)
            server = start_dev_server(db_file=db_file, port=port, log_file=state_dir / "temporal-restart.log")
            wait_for_port("127.0.0.1", port, 60, server)
            relay.start()

            for email in emails:
                await relay.wait_for(lambda m, e=email: m["To"] == e, timeout=90)
            await eventually(lambda: all_sent(sessions, emails), timeout=30, what="outbox marked sent")
            assert relay.store.duplicates() == {}
    finally:
        relay.stop()
        server.terminate()
        server.wait(timeout=30)
