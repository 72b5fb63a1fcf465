"""Two API processes and two worker processes against one Temporal server and one
database: dose series, help-desk cases and account email go through both APIs
alternately, one worker is SIGKILLed mid-way, and everything still completes
with every email sent once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from notifications.capture import CaptureServer
from tests.conftest import eventually
from tests.journeys import add_lot, book, document, mail, mails_to, new_product, new_recipient, publish_slot
from tests.replicas import Replicas
from tests.test_helpdesk import open_case, register_requester
from worker.devserver import free_port
from worker.seed import DEMO_PASSWORD


@pytest.fixture
def relay(state_dir: Path):
    """A mail relay of the test's own: a killed worker may repeat a delivery, which must
    not reach the session's mailbox that other tests check for repeats."""
    server = CaptureServer(state_dir / f"replica-relay-{uuid.uuid4().hex[:6]}", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def replicas(settings, sessions, state_dir: Path, relay: CaptureServer):
    running = Replicas(
        settings.model_copy(
            update={
                "temporal_task_queue": f"cvms-replicas-{uuid.uuid4().hex[:6]}",
                "smtp_port": relay.port,
            }
        ),
        logs=state_dir,
    )
    yield running
    running.stop_all()


async def logged_in(api: httpx.AsyncClient, login_name: str) -> dict[str, str]:
    response = await api.post("/auth/login", json={"login_name": login_name, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    api.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_two_apis_and_two_workers_share_the_work_and_survive_a_killed_worker(replicas, relay, sessions):
    smtp = relay
    urls = [replicas.start_api(), replicas.start_api()]
    first_worker = replicas.start_worker()
    replicas.start_worker()
    a, b = (httpx.AsyncClient(base_url=url, timeout=60) for url in urls)
    async with a, b:
        manager_a, scheduler_b = await logged_in(a, "manager"), await logged_in(b, "scheduler")
        provider_a, provider_b = await logged_in(a, "provider"), await logged_in(b, "provider")
        # A session opened on one replica works on the other: nothing lives in a process.
        assert (await b.get("/auth/me", headers=manager_a)).status_code == 200

        # Account email through both APIs.
        tag = f"replica{uuid.uuid4().hex[:5]}"
        emails = [f"{tag}.{i}@clinic.example" for i in range(2)]
        for api, email in zip((a, b), emails, strict=True):
            added = await api.post(
                "/location/users",
                json={
                    "first_name": "Rep",
                    "last_name": "Lica",
                    "email": email,
                    "login_name": email.split("@")[0],
                    "role": "provider",
                },
                headers=manager_a,
            )
            assert added.status_code == 201, added.text

        # Dose series: booked on B, checked in on A, dose 1 documented on B.
        product = await new_product(sessions, doses=2, interval_days=1, latest_days=30, grace_days=0)
        lot = await add_lot(sessions, product)
        slot = await publish_slot(a, manager_a, start_in=1, length=120, capacity=3, product=product)
        recipients = [await new_recipient(sessions), await new_recipient(sessions, language="es")]
        for recipient in recipients:
            booked = await book(b, scheduler_b, recipient.id, slot["id"])
            assert booked.status_code == 201, booked.text
            checked_in = await a.post(f"/appointments/{booked.json()['id']}/check-in", headers=provider_a)
            assert checked_in.status_code == 200, checked_in.text
            first = await document(b, provider_b, recipient.id, product=product, lot=lot)
            assert first.status_code == 201, first.text

        # A help-desk case opened on A; the requester registered on B.
        _email, requester = await register_requester(b, smtp)
        case = await open_case(a, requester)

        replicas.kill(first_worker)  # no clean shutdown, as when a machine dies

        # The surviving worker carries on: dose 2 comes due, is documented on A, the series completes.
        for recipient in recipients:
            await mail(
                smtp,
                recipient.email,
                "dose 2 is due" if recipient.preferred_language == "en" else "corresponde la dosis 2",
                60,
            )
            second = await document(a, provider_a, recipient.id, product=product, lot=lot)
            assert second.status_code == 201, second.text
        agent = await logged_in(b, "agent")
        resolved = await b.post(
            f"/helpdesk/agent/cases/{case['number']}/resolve", json={"resolution": "Fixed."}, headers=agent
        )
        assert resolved.status_code == 200, resolved.text

    await asyncio.gather(
        *(smtp.wait_for(lambda m, e=email: m["To"] == e, timeout=60) for email in emails),
        smtp.wait_for(lambda m: m["Subject"] == f"Case #{case['number']} is resolved", timeout=60),
    )

    async def series_complete() -> bool:
        return all(
            any("complete" in m["Subject"] or "completa" in m["Subject"] for m in mails_to(smtp, r.email))
            for r in recipients
        )

    await eventually(series_complete, timeout=60, what="both series complete")
    # Each message is in the mailbox once. Only a kill between the relay's acceptance and
    # the outbox record can repeat a delivery (same Message-ID): at most one, for one kill.
    assert sum(n - 1 for n in smtp.store.duplicates().values()) <= 1
