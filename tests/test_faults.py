"""Faults on the real parts: the mail relay down for a while, the Temporal server
restarted under running work, the worker killed at random points of running dose
series. Nothing owed is lost and nothing is sent twice."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client

from api.app import create_app
from domain.settings import Settings
from notifications.capture import CaptureServer
from records.db import transaction
from records.outbox import OutboxMessage
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from services.temporal import data_converter
from tests.conftest import connect_when_ready, eventually, login
from tests.journeys import (
    add_lot,
    document,
    new_product,
    new_recipient,
    new_recipients,
    publish_slot,
)
from tests.replay import replay_histories
from tests.replicas import Replicas
from worker.devserver import free_port, start_dev_server, wait_for_port
from worker.main import build_worker
from worker.seed import DEMO_PASSWORD


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
        client = await connect_when_ready(f"127.0.0.1:{port}", data_converter(settings))
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


# --------------------------------------------------------------------------- faults during dose series

# What one series owes its recipient: booked, reminded, dose 2 due, complete — each exactly once.
OWED = ("is confirmed", "Reminder", "is due", "series is complete")


def series_settings(settings: Settings, **update: Any) -> Settings:
    """Short days so a whole two-dose series takes seconds; its own task queue and workers."""
    return isolated(settings, day_seconds=1.0, reminder_lead_seconds=2.0, **update)


async def persist(call: Callable[[], Awaitable[httpx.Response]], *, what: str) -> httpx.Response:
    """Repeats an idempotent request (same Idempotency-Key) while the API answers 503 or not at all,
    as a client does while a worker or the Temporal server is coming back."""
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        try:
            response = await call()
            if response.status_code != 503:
                return response
        except httpx.TransportError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: no answer but 503 for 120 s")
        await asyncio.sleep(0.3)


@dataclass
class SeriesWorld:
    api: httpx.AsyncClient
    temporal: Client
    smtp: CaptureServer
    sessions: Any
    product: str
    lot: str
    slot_id: int
    scheduler: dict[str, str]
    provider: dict[str, str]


async def series_world(
    api: httpx.AsyncClient,
    temporal: Client,
    smtp: CaptureServer,
    sessions: Any,
    *,
    start_in: float,
    seats: int,
) -> SeriesWorld:
    manager, scheduler, provider = [await login(api, n) for n in ("manager", "scheduler", "provider")]
    # Dose 2 due two "days" (2 s) after dose 1; overdue far beyond the test.
    product = await new_product(sessions, interval_days=2, latest_days=600, grace_days=1)
    lot = await add_lot(sessions, product)
    slot = await publish_slot(api, manager, start_in=start_in, length=600, capacity=seats, product=product)
    return SeriesWorld(api, temporal, smtp, sessions, product, lot, slot["id"], scheduler, provider)


async def owed_mail(world: SeriesWorld, address: str, subject_part: str) -> None:
    await world.smtp.wait_for(lambda m: m["To"] == address and subject_part in str(m["Subject"]), timeout=180)


async def book_series(world: SeriesWorld, recipient_id: int) -> str:
    """Books dose 1 in the world's slot; returns the journey's workflow id."""
    key = f"series-{recipient_id}"
    booked = await persist(
        lambda: world.api.post(
            "/appointments",
            json={"recipient_id": recipient_id, "slot_id": world.slot_id},
            headers={**world.scheduler, "Idempotency-Key": f"{key}-book"},
        ),
        what="booking",
    )
    assert booked.status_code == 201, booked.text
    return booked.json()["journey_id"]


async def finish_series(world: SeriesWorld, recipient_id: int, address: str, journey: str) -> str:
    """Takes the reminder, documents dose 1, takes the dose-2-due notice, documents dose 2;
    returns once the journey's workflow has completed."""
    await owed_mail(world, address, "Reminder")
    for dose, notice in ((1, "is due"), (2, "series is complete")):
        documented = await persist(
            lambda dose=dose: document(
                world.api,
                {**world.provider, "Idempotency-Key": f"series-{recipient_id}-dose{dose}"},
                recipient_id,
                product=world.product,
                lot=world.lot,
            ),
            what=f"dose {dose}",
        )
        assert documented.status_code == 201, documented.text
        await owed_mail(world, address, notice)
    await world.temporal.get_workflow_handle(journey).result()
    return journey


async def book_many_series(world: SeriesWorld, count: int) -> list[tuple[Recipient, str]]:
    recipients = [await new_recipient(world.sessions) for _ in range(count)]
    journeys = await asyncio.gather(*(book_series(world, r.id) for r in recipients))
    return list(zip(recipients, journeys, strict=True))


async def finish_many_series(world: SeriesWorld, booked: list[tuple[Recipient, str]]) -> dict[str, str]:
    """Runs the booked series to completion; {recipient address: journey id}."""
    await asyncio.gather(*(finish_series(world, r.id, r.email, j) for r, j in booked))
    assert_each_owed_email_once(world.smtp, [r.email for r, _ in booked])
    return {r.email: j for r, j in booked}


async def run_many_series(world: SeriesWorld, count: int) -> dict[str, str]:
    return await finish_many_series(world, await book_many_series(world, count))


def assert_each_owed_email_once(smtp: CaptureServer, addresses: list[str]) -> None:
    """Each recipient's mailbox holds exactly the owed messages, one of each (the capture server,
    like a mail client, keeps one copy per Message-ID)."""
    for address in addresses:
        received = [str(m["Subject"]) for m in smtp.messages if m["To"] == address]
        owed = Counter(part for subject in received for part in OWED if part in subject)
        assert owed == Counter(OWED) and len(received) == len(OWED), (address, received)


def redeliveries(smtp: CaptureServer, addresses: list[str]) -> int:
    """SMTP deliveries beyond the first of the same Message-ID to these addresses."""
    ids = [str(m["Message-ID"]) for m in smtp.messages if m["To"] in addresses]
    return sum(smtp.store.deliveries_by_id[i] - 1 for i in ids)


async def test_dose_series_complete_with_each_email_once_when_the_worker_is_killed_at_random(
    settings, temporal, sessions, state_dir: Path
):
    # A relay of its own: the repeats a kill can cause (below) stay out of the session's mailbox.
    relay = CaptureServer(state_dir / f"relay-chaos-{uuid.uuid4().hex[:6]}", port=free_port())
    relay.start()
    own = series_settings(settings, smtp_port=relay.port)
    logs = state_dir / f"chaos-{uuid.uuid4().hex[:6]}"
    logs.mkdir()
    replicas = Replicas(own, logs=logs)
    seed = random.randrange(10**6)
    chaos = random.Random(seed)
    kills = 0
    try:
        await polling(replicas, logs)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(own, temporal)), base_url="http://cvms.test"
        ) as api:
            world = await series_world(api, temporal, relay, sessions, start_in=20, seats=20)
            booked = await book_many_series(world, 20)  # (a worker killed mid-booking: test_replicas)
            series = asyncio.ensure_future(finish_many_series(world, booked))
            # Kills at random moments while reminders, doses and notices are under way, each
            # once the previous worker was up and polling.
            while kills < 5 and not series.done():
                await asyncio.wait([series], timeout=chaos.uniform(1.0, 5.0))
                if series.done():
                    break
                replicas.kill(replicas.workers[-1])  # SIGKILL, wherever it is
                kills += 1
                await asyncio.sleep(chaos.uniform(0.0, 1.5))
                await polling(replicas, logs)
            journeys = await series
    finally:
        replicas.stop_all()
        relay.stop()
    assert kills >= 2, f"the series finished before the worker was killed often enough (seed {seed})"
    assert len(set(journeys.values())) == 20
    # A worker killed after the relay accepted a message but before the outbox recorded it sends
    # that message again on retry, with the same Message-ID, so the mailbox above holds it once.
    # Only a kill opens that window (each may catch every delivery then in flight).
    assert redeliveries(relay, list(journeys)) <= kills * 20


async def polling(replicas: Replicas, logs: Path) -> None:
    """Starts a worker process and waits until it polls its task queue."""
    replicas.start_worker()
    log = logs / f"worker-{len(replicas.workers) - 1}.log"

    async def started() -> bool:
        return log.exists() and "worker polling" in log.read_text(errors="replace")

    await eventually(started, timeout=60, what="the worker process to poll")


async def test_dose_series_complete_when_the_temporal_server_restarts_under_them(
    settings, sessions, state_dir: Path, smtp
):
    port = free_port()
    db_file = state_dir / f"temporal-series-{port}.db"
    log_file = state_dir / "temporal-series.log"
    server = start_dev_server(db_file=db_file, port=port, log_file=log_file)
    try:
        wait_for_port("127.0.0.1", port, 60, server)
        client = await connect_when_ready(f"127.0.0.1:{port}", data_converter(settings))
        own = series_settings(settings, temporal_address=f"127.0.0.1:{port}")
        async with (
            build_worker(client, own),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(own, client)), base_url="http://cvms.test"
            ) as api,
        ):
            world = await series_world(api, client, smtp, sessions, start_in=12, seats=5)
            series = asyncio.ensure_future(run_many_series(world, 5))
            await asyncio.sleep(6)  # the bookings are in; reminders pending
            assert not series.done()
            server.terminate()
            server.wait(timeout=30)
            await asyncio.sleep(2)
            server = start_dev_server(db_file=db_file, port=port, log_file=log_file)
            wait_for_port("127.0.0.1", port, 60, server)
            journeys = await series
        assert len(set(journeys.values())) == 5
        assert redeliveries(smtp, list(journeys)) == 0
        # Their histories span the restart; they replay like any other.
        report = await replay_histories(client, [(journey, None) for journey in journeys.values()])
        assert report.replayed == 5 and report.failures == {}, report
    finally:
        server.terminate()
        server.wait(timeout=30)


async def test_dose_series_emails_owed_during_a_mail_outage_arrive_once_after_it(
    settings, temporal, sessions, state_dir: Path
):
    port = free_port()
    relay = CaptureServer(state_dir / f"relay-series-{port}", port=port)
    relay.start()
    own = series_settings(settings, smtp_port=port)
    try:
        async with (
            build_worker(temporal, own),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(own, temporal)), base_url="http://cvms.test"
            ) as api,
        ):
            world = await series_world(api, temporal, relay, sessions, start_in=8, seats=5)
            series = asyncio.ensure_future(run_many_series(world, 5))
            await eventually(
                lambda: _confirmations(relay, 5), timeout=60, what="the five confirmations before the outage"
            )
            relay.stop()  # the relay goes down: reminders fall due and fail meanwhile
            down_at = time.time()
            await asyncio.sleep(6)
            assert not series.done()
            relay.start()
            up_at = time.time()
            journeys = await series
        assert redeliveries(relay, list(journeys)) == 0
        reminders = [m for m in relay.messages if "Reminder" in str(m["Subject"])]
        assert len(reminders) == 5
        # Owed while the relay was down, delivered after it came back (each once: checked above).
        assert all(relay.store.arrived_at[str(m["Message-ID"])] >= up_at for m in reminders)
        async with transaction(sessions) as db:
            failed = (
                (
                    await db.execute(
                        select(OutboxMessage).where(
                            OutboxMessage.to_address.in_([m["To"] for m in reminders]),
                            OutboxMessage.attempts > 1,
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert failed, f"no delivery failed between {down_at} and {up_at}"
    finally:
        relay.stop()


async def _confirmations(relay: CaptureServer, count: int) -> bool:
    return sum("is confirmed" in str(m["Subject"]) for m in relay.messages) >= count


# --------------------------------------------------------------------------- a launch-day crowd


async def test_a_thousand_concurrent_bookings_over_http_fill_ten_seats_and_refuse_the_rest_cleanly(
    api, settings, sessions, worker, state_dir: Path
):
    manager = await login(api, "manager")
    slot = await publish_slot(api, manager, start_in=7200, capacity=10)
    recipients = await new_recipients(sessions, 1000)
    logs = state_dir / f"crowd-{uuid.uuid4().hex[:6]}"
    logs.mkdir()
    replicas = Replicas(settings, logs=logs)  # a real uvicorn process on a real port
    try:
        url = replicas.start_api()
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=url, timeout=180, limits=limits) as http:
            token = await http.post(
                "/auth/login", json={"login_name": "scheduler", "password": DEMO_PASSWORD}
            )
            scheduler = {"Authorization": f"Bearer {token.json()['token']}"}

            async def book(rid: int) -> httpx.Response:
                # As a real client would: a dropped connection (a crowd of 1,000 on 2 cores
                # can overflow a socket queue) or a 503 (the booking missed its deadline while
                # the worker was swamped) is retried with the same Idempotency-Key, after the
                # Retry-After the 503 gives; a retry must never book twice.
                for attempt in range(6):
                    try:
                        response = await http.post(
                            "/appointments",
                            json={"recipient_id": rid, "slot_id": slot["id"]},
                            headers={**scheduler, "Idempotency-Key": f"crowd-{rid}"},
                        )
                    except httpx.TransportError:
                        if attempt == 5:
                            raise
                        continue
                    if response.status_code != 503 or attempt == 5:
                        return response
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                raise AssertionError("unreachable")

            responses = await asyncio.gather(*(book(rid) for rid in recipients))
    finally:
        replicas.stop_all()

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 10, 409: 990}), statuses
    refusals = [r.json() for r in responses if r.status_code == 409]
    assert {(r["code"], r["detail"]) for r in refusals} == {
        ("slot_full", "This slot is full; choose another.")
    }
    async with transaction(sessions) as db:
        booked = (await db.get(Slot, slot["id"])).booked
        rows = (
            (await db.execute(select(Appointment).where(Appointment.slot_id == slot["id"]))).scalars().all()
        )
    assert booked == 10 == len(rows) == len({r.recipient_id for r in rows})
    assert {r.status for r in rows} == {"booked"}
    winners = {r.json()["recipient_id"] for r in responses if r.status_code == 201}
    assert winners == {r.recipient_id for r in rows}
