"""Outages around the requests: with the worker stopped, and with the Temporal server frozen
(SIGSTOP), every request answers within the deadline plus a second with its documented status;
after recovery the records, the workflows and the mailbox agree with every answer given."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.app import create_app
from domain.helpdesk import CaseAction, case_workflow_id
from domain.settings import Settings
from notifications.capture import CaptureServer
from records.db import transaction
from records.recipients import Recipient
from records.scheduling import Appointment
from records.users import User
from services.temporal import data_converter, refusal_from
from tests.conftest import connect_when_ready, eventually, login
from tests.journeys import add_lot, new_product, new_recipient, publish_slot, unique
from tests.test_helpdesk import open_case, register_requester
from worker.devserver import free_port, port_in_use, start_dev_server, wait_for_port
from worker.main import build_worker
from workflows.case import CaseWorkflow

DEADLINE = 2.0
CSV_HEADER = "first_name,last_name,date_of_birth,sex,email,phone,preferred_language,postal_code\n"


def outage_settings(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "temporal_task_queue": f"cvms-outage-{uuid.uuid4().hex[:6]}",
            "temporal_deadline_seconds": DEADLINE,
            "reconcile_interval_seconds": 0.5,
            **update,
        }
    )


@dataclass
class World:
    """What the requests under test act on, made while everything was up."""

    api: httpx.AsyncClient
    manager: dict[str, str]
    scheduler: dict[str, str]
    provider: dict[str, str]
    agent: dict[str, str]
    requester: dict[str, str]
    product: str
    lot: str
    slot_id: int
    booked: dict[str, Any]  # an appointment to cancel
    to_book: int  # a recipient to book
    to_dose: int  # a recipient to document a dose for
    case_number: int
    answers: dict[str, tuple[int, dict[str, Any], float]] = field(default_factory=dict)


async def make_world(api: httpx.AsyncClient, sessions: Any, smtp: CaptureServer) -> World:
    manager, scheduler, provider, agent = [
        await login(api, n) for n in ("manager", "scheduler", "provider", "agent")
    ]
    _, requester = await register_requester(api, smtp)
    product = await new_product(sessions, interval_days=2, latest_days=600)
    lot = await add_lot(sessions, product)
    slot = await publish_slot(api, manager, start_in=3600, length=600, capacity=10, product=product)
    first = await new_recipient(sessions)
    booked = await api.post(
        "/appointments",
        json={"recipient_id": first.id, "slot_id": slot["id"]},
        headers={**scheduler, "Idempotency-Key": unique("book-")},
    )
    assert booked.status_code == 201, booked.text
    case = await open_case(api, requester)
    return World(
        api=api,
        manager=manager,
        scheduler=scheduler,
        provider=provider,
        agent=agent,
        requester=requester,
        product=product,
        lot=lot,
        slot_id=slot["id"],
        booked=booked.json(),
        to_book=(await new_recipient(sessions)).id,
        to_dose=(await new_recipient(sessions)).id,
        case_number=case["number"],
    )


def requests(world: World, tag: str) -> dict[str, Callable[[], Awaitable[httpx.Response]]]:
    """Each request under test, repeatable with the same Idempotency-Key."""
    api = world.api
    upload_name = f"Up{tag}"
    return {
        "booking": lambda: api.post(
            "/appointments",
            json={"recipient_id": world.to_book, "slot_id": world.slot_id},
            headers={**world.scheduler, "Idempotency-Key": f"{tag}-book"},
        ),
        "dose": lambda: api.post(
            f"/recipients/{world.to_dose}/doses",
            json={
                "product_code": world.product,
                "lot_number": world.lot,
                "injection_site": "left_deltoid",
                "route": "intramuscular",
            },
            headers={**world.provider, "Idempotency-Key": f"{tag}-dose"},
        ),
        "cancel": lambda: api.post(
            f"/appointments/{world.booked['id']}/cancel",
            json={"reason": "outage test"},
            headers={**world.scheduler, "Idempotency-Key": f"{tag}-cancel"},
        ),
        "intake": lambda: api.post(
            "/helpdesk/cases",
            json={
                "category": "vaccine-provider",
                "topic": "login-access",
                "subject": f"Outage {tag}",
                "description": "Filed while Temporal was away.",
            },
            headers=world.requester,
        ),
        "note": lambda: api.post(
            f"/helpdesk/agent/cases/{world.case_number}/notes",
            json={"body": f"note {tag}", "visibility": "internal"},
            headers={**world.agent, "Idempotency-Key": f"{tag}-note"},
        ),
        "add user": lambda: api.post(
            "/location/users",
            json={
                "first_name": "Outage",
                "last_name": "User",
                "email": f"{tag}@clinic.example",
                "login_name": tag,
                "role": "provider",
            },
            headers=world.manager,
        ),
        "upload": lambda: api.post(
            "/recipients/uploads",
            files={
                "file": (
                    "outage.csv",
                    (CSV_HEADER + f"Ana,{upload_name},1980-02-03,female,,,en,\n").encode(),
                    "text/csv",
                )
            },
            headers=world.manager,
        ),
        "recipient edit": lambda: api.patch(
            f"/recipients/{world.to_book}",
            json={"city": f"Durham {tag}", "email": f"{tag}@example.com"},
            headers=world.manager,
        ),
    }


# What each request answers during the outage: a workflow update cannot be done (503 and
# nothing changed); a change that only starts a workflow is committed with the start promised.
DURING = {
    "booking": 503,
    "dose": 503,
    "cancel": 503,
    "intake": 201,
    "note": 503,
    "add user": 201,
    "upload": 202,
    "recipient edit": 200,
}


async def answer_all(world: World, tag: str, unavailable_code: str) -> None:
    """Sends every request at once; each answers within the deadline plus one second."""

    async def timed(name: str, call: Callable[[], Awaitable[httpx.Response]]) -> None:
        began = time.monotonic()
        try:
            response = await asyncio.wait_for(call(), timeout=DEADLINE + 10)
            body = response.json()
            if response.status_code == 503:
                body["retry_after_header"] = response.headers.get("Retry-After")
            world.answers[name] = (response.status_code, body, time.monotonic() - began)
        except TimeoutError:
            world.answers[name] = (0, {"detail": "no answer"}, time.monotonic() - began)
        except Exception as error:  # noqa: BLE001 - the app raised: what a client sees as a 500
            world.answers[name] = (500, {"detail": repr(error)[:80]}, time.monotonic() - began)

    await asyncio.gather(*(timed(name, call) for name, call in requests(world, tag).items()))
    measured = {name: (status, round(took, 1)) for name, (status, _b, took) in world.answers.items()}
    print("answers during the outage:", measured)
    for name, (status, body, took) in world.answers.items():
        assert took <= DEADLINE + 1, (name, measured)
        assert status == DURING[name], (name, status, body)
        if status == 503:
            assert body["code"] == unavailable_code and body["changed"] is False, (name, body)
            assert body["retry_after_header"], (name, body)


async def everything_agrees(
    world: World, tag: str, sessions: Any, smtp: CaptureServer, client: Client
) -> None:
    """After recovery: the promised starts happened, the refused updates go through once when
    repeated with their keys, and nothing was done twice."""
    calls = requests(world, tag)
    for name in ("booking", "dose", "cancel", "note"):
        response = await eventually(
            lambda name=name: _not_503(calls[name]), timeout=60, what=f"{name} after recovery"
        )
        assert response.status_code in (200, 201), (name, response.text)
        again = await calls[name]()
        assert again.status_code in (200, 201), (name, again.text)
    # The user added during the outage gets their set-up email, once.
    address = f"{tag}@clinic.example"
    await smtp.wait_for(lambda m: m["To"] == address, timeout=60)
    assert len([m for m in smtp.messages if m["To"] == address]) == 1
    # The case filed during the outage has its workflow.
    number = world.answers["intake"][1]["number"]

    async def case_running() -> bool:
        try:
            described = await client.get_workflow_handle(case_workflow_id(number)).describe()
        except Exception:  # noqa: BLE001 - not started yet
            return False
        return described.status == WorkflowExecutionStatus.RUNNING

    await eventually(case_running, timeout=60, what="the case workflow")
    # The upload finishes and registers its one row.
    upload_id = world.answers["upload"][1]["id"]

    async def upload_done() -> bool:
        state = (await world.api.get(f"/recipients/uploads/{upload_id}", headers=world.manager)).json()
        return state["status"] == "done"

    await eventually(upload_done, timeout=60, what="the upload")
    async with transaction(sessions) as db:
        uploaded = await db.scalar(select(func.count()).where(Recipient.last_name == f"Up{tag}"))
        booked = await db.scalar(
            select(func.count()).where(
                Appointment.recipient_id == world.to_book, Appointment.status == "booked"
            )
        )
        users = await db.scalar(select(func.count()).where(User.login_name == tag))
        city = (await db.get(Recipient, world.to_book)).city  # type: ignore[union-attr]
    assert (uploaded, booked, users, city) == (1, 1, 1, f"Durham {tag}")


async def _not_503(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response | None:
    response = await call()
    return None if response.status_code == 503 else response


@asynccontextmanager
async def serving(settings: Settings, client: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cvms.test") as api:
        yield api


async def test_with_the_worker_stopped_every_request_answers_in_time(settings, temporal, sessions, smtp):
    own = outage_settings(settings)
    async with serving(own, temporal) as api:
        async with build_worker(temporal, own):
            world = await make_world(api, sessions, smtp)
        tag = unique("wk").lower()
        await answer_all(world, tag, "worker_unavailable")
        async with build_worker(temporal, own):
            await everything_agrees(world, tag, sessions, smtp, temporal)


async def test_with_temporal_frozen_every_request_answers_in_time(settings, sessions, smtp, state_dir: Path):
    port = free_port()
    server = start_dev_server(
        db_file=state_dir / f"temporal-frozen-{port}.db",
        port=port,
        log_file=state_dir / "temporal-frozen.log",
    )
    try:
        wait_for_port("127.0.0.1", port, 60, server)
        client = await connect_when_ready(f"127.0.0.1:{port}", data_converter(settings))
        own = outage_settings(settings, temporal_address=f"127.0.0.1:{port}")
        async with serving(own, client) as api, build_worker(client, own):
            world = await make_world(api, sessions, smtp)
            tag = unique("fz").lower()
            os.kill(server.pid, signal.SIGSTOP)
            try:
                await answer_all(world, tag, "temporal_unavailable")
            finally:
                os.kill(server.pid, signal.SIGCONT)
            await everything_agrees(world, tag, sessions, smtp, client)
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(timeout=30)


# --------------------------------------------------------------------------- the development stack


async def test_the_dev_stack_restarts_a_killed_worker_and_books_again_within_15_s(tmp_path: Path):
    ports = {name: free_port() for name in ("API", "TEMPORAL", "TEMPORAL_UI", "SMTP", "MAIL_RECEIVER")}
    env = {
        **os.environ,
        **{f"CVMS_{name}_PORT": str(port) for name, port in ports.items()},
        "CVMS_STATE_DIR": str(tmp_path),
        "CVMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cvms.db",
        "CVMS_TEMPORAL_TASK_QUEUE": "cvms",
    }
    output = open(tmp_path / "dev.out", "wb")  # noqa: SIM115 - closed in finally
    stack = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "dev"], env=env, stdout=output, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{ports['API']}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as api:

            async def up() -> bool:
                assert stack.poll() is None, (tmp_path / "dev.out").read_text()
                return "stack is up" in (tmp_path / "dev.out").read_text()

            await eventually(up, timeout=120, what="the dev stack")
            # The help-desk mail receiver is one of its processes, listening where the banner says.
            assert (tmp_path / "mail-in.pid").exists()
            await eventually(
                lambda: asyncio.to_thread(port_in_use, "127.0.0.1", ports["MAIL_RECEIVER"]),
                timeout=60,
                what="the mail receiver's port",
            )
            manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
            slot = await publish_slot(api, manager, start_in=3600, length=600, capacity=5)

            async def book() -> httpx.Response:
                recipient = await api.post(
                    "/recipients",
                    json={
                        "first_name": "Dev",
                        "last_name": unique("Stack"),
                        "date_of_birth": "1980-01-01",
                        "sex": "female",
                    },
                    headers=scheduler,
                )
                assert recipient.status_code == 201, recipient.text
                return await api.post(
                    "/appointments",
                    json={"recipient_id": recipient.json()["id"], "slot_id": slot["id"]},
                    headers={**scheduler, "Idempotency-Key": unique("dev-")},
                )

            assert (await book()).status_code == 201
            os.kill(int((tmp_path / "worker.pid").read_text()), signal.SIGKILL)
            killed = time.monotonic()

            async def booked_again() -> bool:
                return (await book()).status_code == 201

            await eventually(booked_again, timeout=15, what="a booking after the worker was killed")
            assert time.monotonic() - killed < 15
            assert stack.poll() is None
            log = (tmp_path / "dev.out").read_text()
            assert "worker exited (-9); restarting" in log and "worker restarted" in log, log
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()
        output.close()


async def test_an_update_its_caller_stopped_waiting_for_changes_nothing(api, smtp, temporal, sessions):
    """The gateway stamps each update with the instant its caller stops waiting; a worker that
    takes it up later refuses it, so a 503's "nothing was changed" stays true."""
    _, requester = await register_requester(api, smtp)
    case = await open_case(api, requester)
    handle = temporal.get_workflow_handle(case_workflow_id(case["number"]))

    async def running() -> bool:
        try:
            return (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        except RPCError:  # its start is promised and made just after the intake commits
            return False

    await eventually(running, timeout=30, what="the case workflow")
    late = CaseAction(
        kind="priority",
        actor="agent:1",
        priority="urgent",
        answer_by=datetime.now(UTC) - timedelta(seconds=1),
    )
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(CaseWorkflow.act, late)
    assert refusal_from(failed.value.cause).code == "answer_too_late"
    assert (await handle.query(CaseWorkflow.view)).priority != "urgent"
    in_time = CaseAction(
        kind="priority",
        actor="agent:1",
        priority="urgent",
        answer_by=datetime.now(UTC) + timedelta(seconds=30),
    )
    assert (await handle.execute_update(CaseWorkflow.act, in_time)).priority == "urgent"
