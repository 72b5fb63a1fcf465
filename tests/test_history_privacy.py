"""Workflow histories hold no secret and no personal data (issue 15).

The histories are read through a Temporal client WITHOUT the payload codec, as anyone reading the
Temporal database or its Web UI without a key would: the raw bytes of every event must contain no
name, email address, date of birth, password or token that went through the stack. With the
codec (what an administrator sees) secrets and the case's personal data are absent too: workflows
carry references, and activities read and mint what they need.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory

from api.app import create_app
from records.db import transaction
from records.outbox import OutboxMessage
from records.recipients import Recipient
from services.payload_codec import ENCODING
from tests.conftest import eventually, login
from tests.journeys import mail, text_of
from tests.test_helpdesk import FAST_HELPDESK, agent_headers, open_case
from tests.test_journey import run_series

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, temporal: Client, worker: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=FAST_HELPDESK), temporal)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cvms.test"
    ) as client:
        yield client


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (inputs, results, failures, headers)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = value.values()
        elif field.is_repeated:
            items = value
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


async def raw_history(address: str, workflow_id: str) -> WorkflowHistory:
    raw = await Client.connect(address)  # no codec: what the server stores
    return await raw.get_workflow_handle(workflow_id).fetch_history()


def leaks(history: WorkflowHistory, needles: list[str]) -> list[str]:
    found = []
    for event in history.events:
        raw = event.SerializeToString()
        found += [f"{n!r} in event {event.event_id}" for n in needles if n and n.encode() in raw]
    return found


async def decoded_leaks(temporal: Client, history: WorkflowHistory, needles: list[str]) -> list[str]:
    """What an administrator would see through the codec: still no secret, no personal data."""
    codec = temporal.data_converter.payload_codec
    assert codec is not None
    found, opened = [], 0
    for event in history.events:
        for payload in await codec.decode(list(payloads_in(event))):
            opened += payload.metadata.get("encoding") == b"json/plain"
            found += [f"{n!r} in event {event.event_id}" for n in needles if n and n.encode() in payload.data]
    assert opened, "the codec opened the payloads"
    return found


def all_sealed(history: WorkflowHistory) -> list[str]:
    """The payloads that are not encrypted, with their events (empty: all sealed)."""
    found = []
    for event in history.events:
        # A local activity's marker keeps the SDK's own bookkeeping (seq, attempt, activity type,
        # times) unencoded beside its sealed result; the raw-bytes search still covers it.
        marker = event.marker_recorded_event_attributes.details
        bookkeeping = list(marker["data"].payloads) if "data" in marker else []
        for payload in payloads_in(event):
            if payload.metadata.get("encoding") != ENCODING and payload not in bookkeeping:
                found.append(
                    f"{event.event_id} {event.event_type} {dict(payload.metadata)} {payload.data[:80]!r}"
                )
    return found


async def assert_private(temporal: Client, settings: Any, workflow_id: str, needles: list[str]) -> None:
    assert not any(n and n in workflow_id for n in needles), workflow_id
    history = await raw_history(settings.temporal_address, workflow_id)
    assert len(history.events) > 2, workflow_id
    assert leaks(history, needles) == [], workflow_id
    assert all_sealed(history) == [], f"{workflow_id}: unencrypted payloads"
    assert await decoded_leaks(temporal, history, needles) == [], f"{workflow_id} (decoded)"


async def test_a_whole_dose_series_leaves_no_personal_data_in_its_history(
    api, smtp, sessions, temporal, settings, worker
):
    journey_id = await run_series(api, smtp, sessions, temporal, "en")
    recipient_id = journey_id.split("-")[1]
    async with transaction(sessions) as db:
        recipient = await db.get(Recipient, int(recipient_id))
        assert recipient is not None
        needles = [recipient.first_name + " ", recipient.last_name, recipient.email, "1970-05-17"]
    tokens = []
    for message in [m for m in smtp.messages if m["To"] == recipient.email]:
        tokens += re.findall(r"/r/\w+/([\w.\-]{20,})", text_of(message))
    assert tokens, "the series' emails carry recipient links"
    await assert_private(temporal, settings, journey_id, needles + tokens)


async def test_a_help_desk_case_from_sign_up_to_resolution_leaves_no_personal_data(
    desk, smtp, temporal, settings, sessions, worker
):
    email = f"pat.{uuid.uuid4().hex[:8]}@clinic.example"
    first, last = "Perpetua", f"Quillfeather{uuid.uuid4().hex[:4]}"
    registered = await desk.post(
        "/helpdesk/register",
        json={
            "first_name": first,
            "last_name": last,
            "email": email,
            "registration_code": "WAKE-4821",
            "preferred_language": "en",
        },
    )
    assert registered.status_code == 202, registered.text
    account = await mail(smtp, email, "")
    token = re.search(r"/helpdesk/set-password\?token=(\S+)", text_of(account))
    assert token, text_of(account)
    password = f"my secret words {uuid.uuid4().hex[:6]}"
    chosen = await desk.post("/helpdesk/set-password", json={"token": token[1], "password": password})
    assert chosen.status_code == 200, chosen.text
    logged_in = await desk.post("/helpdesk/login", json={"email": email, "password": password})
    assert logged_in.status_code == 200, logged_in.text
    desk.cookies.clear()
    requester = {"Authorization": f"Bearer {logged_in.json()['token']}"}

    subject = f"Printer eats labels {uuid.uuid4().hex[:6]}"
    description = f"Since Tuesday the printer {uuid.uuid4().hex[:6]} jams."
    number = (await open_case(desk, requester, subject=subject, description=description))["number"]
    agent = await agent_headers(desk)
    note = f"Please restart it {uuid.uuid4().hex[:6]}"
    reply = f"Restarted, still jams {uuid.uuid4().hex[:6]}"
    resolution = f"Replaced the roller {uuid.uuid4().hex[:6]}"
    assert (
        await desk.post(f"/helpdesk/agent/cases/{number}/assign", json={}, headers=agent)
    ).status_code == 200
    noted = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes", json={"body": note, "visibility": "public"}, headers=agent
    )
    assert noted.status_code == 200, noted.text
    replied = await desk.post(f"/helpdesk/cases/{number}/reply", json={"body": reply}, headers=requester)
    assert replied.status_code in (200, 201), replied.text
    resolved = await desk.post(
        f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": resolution}, headers=agent
    )
    assert resolved.status_code == 200, resolved.text
    # The resolution email carries every public note: the activity read them from the database.
    done = await mail(smtp, email, "resolved")
    for text in (first, subject, note, reply, resolution):
        assert text in text_of(done), text

    needles = [first, last, email, password, token[1], subject, description, note, reply, resolution]
    await assert_private(temporal, settings, f"case-{number}", needles)
    requester_id = logged_in.json()["requester_id"]
    await assert_private(temporal, settings, f"email-requester-{requester_id}:confirm", needles)

    async def confirm_recorded() -> OutboxMessage | None:  # the send is recorded right after it
        async with transaction(sessions) as db:
            return await db.get(OutboxMessage, f"requester-{requester_id}:confirm")

    row = await eventually(confirm_recorded, timeout=15, what="the confirmation's outbox row")
    assert token[1] not in json.dumps(row.context)

    # No workflow id in the namespace names a person or an address (ids and numbers only).
    raw = await Client.connect(settings.temporal_address)
    ids = [execution.id async for execution in raw.list_workflows()]
    assert ids and [i for i in ids if "@" in i or any(n in i for n in (first, last, subject))] == []


async def test_a_staff_account_set_up_leaves_no_token_or_name_in_its_history(
    api, smtp, temporal, settings, sessions, worker
):
    manager = await login(api, "manager")
    email = f"nurse.{uuid.uuid4().hex[:8]}@clinic.example"
    first, last = "Ottoline", f"Vandersnoot{uuid.uuid4().hex[:4]}"
    added = await api.post(
        "/location/users",
        json={
            "first_name": first,
            "last_name": last,
            "email": email,
            "login_name": f"ov.{uuid.uuid4().hex[:6]}",
            "role": "provider",
        },
        headers=manager,
    )
    assert added.status_code == 201, added.text
    [setup] = await smtp.wait_for(lambda m: m["To"] == email)
    token = text_of(setup).split("token=")[1].split()[0]
    password = f"a long password {uuid.uuid4().hex[:6]}"
    assert (
        await api.post("/auth/set-password", json={"token": token, "password": password})
    ).status_code == 204
    workflow_id = f"email-user-{added.json()['user_id']}:account-setup"

    async def closed() -> bool:
        raw = await Client.connect(settings.temporal_address)
        return (await raw.get_workflow_handle(workflow_id).describe()).close_time is not None

    await eventually(closed, timeout=30, what="the set-up email's workflow to finish")
    await assert_private(temporal, settings, workflow_id, [first, last, email, token, password])
    # The outbox keeps the message, not the link: the activity minted it as it sent.
    async with transaction(sessions) as db:
        row = await db.get(OutboxMessage, workflow_id.removeprefix("email-"))
        assert row is not None and row.sent_at is not None
        assert token not in json.dumps(row.context) and "set_password_url" not in json.dumps(row.context)
