"""The help desk end to end on the real parts: API, Temporal dev server, worker,
database and SMTP capture. Cases here run on a round-the-clock calendar with
SLA targets and windows of seconds (settings), so a whole life takes seconds."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from records.db import transaction
from records.helpdesk import Case, CaseEventRecord
from tests.conftest import login
from worker.seed import DEMO_PASSWORD

# Round the clock; "normal" cases must get a first response within 4 s, others have 10 min.
FAST_HELPDESK = dict(
    helpdesk_hours="always",
    helpdesk_sla_targets="urgent=600/600,high=600/600,normal=4/600,low=600/600",
    helpdesk_auto_close_seconds=4.0,
    helpdesk_reopen_window_seconds=60.0,
)
FIRST_RESPONSE_SECONDS = 4.0


@pytest.fixture(scope="session")
def fast_app(settings, temporal, sessions, worker) -> Any:
    """The API with help-desk settings of seconds; the session worker runs its cases
    (a case's calendar, targets and windows travel in its workflow input)."""
    return create_app(settings.model_copy(update=FAST_HELPDESK), temporal)


@pytest.fixture
async def desk(fast_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fast_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as client:
        yield client


def unique_email(prefix: str = "ana") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}@clinic.example"


def to(address: str):
    return lambda m: m["To"] == address


def with_key(key: str):
    """Messages of one outbox key (the Message-ID is derived from it)."""
    safe = "".join(ch if ch.isalnum() or ch in "-." else "." for ch in key)
    return lambda m: str(m["Message-ID"]).startswith(f"<{safe}@")


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


async def register_requester(
    api: httpx.AsyncClient,
    smtp: Any,
    *,
    email: str | None = None,
    language: str = "en",
    code: str = "WAKE-4821",
) -> tuple[str, dict[str, str]]:
    """Registers, confirms with the emailed temporary password, sets a password; returns
    the email and bearer headers of a ready requester."""
    email = email or unique_email()
    registered = await api.post(
        "/helpdesk/register",
        json={
            "first_name": "Ana",
            "last_name": "Bell",
            "email": email,
            "registration_code": code,
            "preferred_language": language,
        },
    )
    assert registered.status_code == 202, registered.text
    [mail] = await smtp.wait_for(to(email))
    temporary = re.search(r"(?:Temporary password|Contraseña temporal): (\S+)", text_of(mail))
    assert temporary, text_of(mail)
    first = await api.post("/helpdesk/login", json={"email": email, "password": temporary[1]})
    assert first.status_code == 200, first.text
    assert first.json()["must_change_password"] is True and first.json()["confirmed"] is True
    headers = {"Authorization": f"Bearer {first.json()['token']}"}
    api.cookies.clear()
    refused = await api.get("/helpdesk/cases", headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "password_change_required"
    changed = await api.post(
        "/helpdesk/password",
        json={"current_password": temporary[1], "new_password": "my own password 42"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    again = await api.post("/helpdesk/login", json={"email": email, "password": "my own password 42"})
    assert again.status_code == 200 and again.json()["must_change_password"] is False
    api.cookies.clear()
    return email, {"Authorization": f"Bearer {again.json()['token']}"}


async def open_case(api: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {
        "category": "vaccine-provider",
        "topic": "login-access",
        "subject": "Cannot log in at WAKE-01",
        "description": "My login stopped working this morning.",
        "contact_phone": "(919) 555-0142",
    }
    body.update(overrides)
    response = await api.post("/helpdesk/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def agent_headers(api: httpx.AsyncClient) -> dict[str, str]:
    return await login(api, "agent", DEMO_PASSWORD)


async def case_events(sessions: Any, number: int) -> list[CaseEventRecord]:
    async with transaction(sessions) as db:
        case = (await db.execute(select(Case).where(Case.number == number))).scalar_one()
        return list(
            (
                await db.execute(
                    select(CaseEventRecord)
                    .where(CaseEventRecord.case_id == case.id)
                    .order_by(CaseEventRecord.seq)
                )
            ).scalars()
        )


async def test_a_case_runs_its_whole_life_through_the_api(desk, smtp, sessions, temporal):
    email, requester = await register_requester(desk, smtp)

    # Intake: routed by the category to Provider Support, priority from the topic.
    case = await open_case(desk, requester)
    number = case["number"]
    assert case["team"] == "Provider Support" and case["priority"] == "high" and case["state"] == "new"
    [received] = await smtp.wait_for(with_key(f"case-{number}:received"))
    assert received["To"] == email and f"#{number}" in received["Subject"]
    assert "What happens next" in text_of(received) and "Provider Support" in html_of(received)

    agent = await agent_headers(desk)
    me = (await desk.get("/helpdesk/agent/me", headers=agent)).json()
    queue = (await desk.get("/helpdesk/agent/queue", params={"assignee": "none"}, headers=agent)).json()
    assert number in [item["number"] for item in queue]

    assigned = await desk.post(f"/helpdesk/agent/cases/{number}/assign", json={}, headers=agent)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["state"] == "open" and assigned.json()["assignee_id"] == me["agent_id"]
    mine = (await desk.get("/helpdesk/agent/queue", params={"assignee": "me"}, headers=agent)).json()
    assert number in [item["number"] for item in mine]

    internal = "INTERNAL: requester's account was locked by three bad passwords"
    noted = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes",
        json={"body": internal, "visibility": "internal"},
        headers=agent,
    )
    assert noted.status_code == 200, noted.text
    public_1 = "I have unlocked your account; please try to log in again."
    noted = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes",
        json={"body": public_1, "visibility": "public"},
        headers=agent,
    )
    assert noted.status_code == 200, noted.text
    [note_mail] = await smtp.wait_for(lambda m: m["To"] == email and "new note" in m["Subject"])
    assert public_1 in text_of(note_mail) and internal not in text_of(note_mail)

    question = "Does it work now? Which browser do you use?"
    pending = await desk.post(
        f"/helpdesk/agent/cases/{number}/pending", json={"body": question}, headers=agent
    )
    assert pending.status_code == 200 and pending.json()["state"] == "pending"
    assert pending.json()["sla"]["clock_running"] is False  # waiting on the requester stops the clock
    [waiting] = await smtp.wait_for(lambda m: m["To"] == email and "waiting on you" in m["Subject"])
    assert question in text_of(waiting)
    view = (await desk.get(f"/helpdesk/agent/cases/{number}", headers=agent)).json()
    assert view["state"] == "pending" and view["sla_status"] == "paused"
    assert view["sla"]["first_response"]["status"] == "met"
    assert view["sla"]["resolution"]["status"] == "paused" and view["sla"]["resolution"]["due_at"] is None

    # Setting it pending again is not a valid transition: 409 and nothing changes.
    before = len(await case_events(sessions, number))
    again = await desk.post(f"/helpdesk/agent/cases/{number}/pending", json={}, headers=agent)
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert len(await case_events(sessions, number)) == before

    reply = "Yes it works now, thanks. I use Firefox."
    replied = await desk.post(f"/helpdesk/cases/{number}/reply", json={"body": reply}, headers=requester)
    assert replied.status_code == 200 and replied.json()["state"] == "open"

    resolution = "Account unlocked; the requester confirmed the login works."
    resolved = await desk.post(
        f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": resolution}, headers=agent
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    [resolved_mail] = await smtp.wait_for(lambda m: m["To"] == email and "is resolved" in m["Subject"])
    for body in (text_of(resolved_mail), html_of(resolved_mail)):
        assert resolution in body and public_1 in body and question in body and "Firefox" in body
        assert "INTERNAL" not in body

    mine = (await desk.get(f"/helpdesk/cases/{number}", headers=requester)).json()
    assert mine["state"] == "resolved"
    assert [n["body"] for n in mine["public_notes"]] == [public_1, question, reply, resolution]

    reopened = await desk.post(f"/helpdesk/cases/{number}/reopen", headers=requester)
    assert reopened.status_code == 200 and reopened.json()["state"] == "open"
    await smtp.wait_for(lambda m: m["To"] == email and "open again" in m["Subject"])

    resolved = await desk.post(
        f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": "Unlocked again."}, headers=agent
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"

    # Auto-closed after the (4 s) window; the workflow then completes.
    [closed] = await smtp.wait_for(with_key(f"case-{number}:closed"), timeout=30)
    assert closed["To"] == email
    handle = temporal.get_workflow_handle(f"case-{number}")
    assert await handle.result() == "closed"
    mine = (await desk.get(f"/helpdesk/cases/{number}", headers=requester)).json()
    assert mine["state"] == "closed" and mine["closed_at"]

    kinds = [e.kind for e in await case_events(sessions, number)]
    assert kinds == [
        "created",
        "assigned",
        "note",
        "note",
        "first_response",
        "note",
        "pending",
        "note",
        "open",
        "note",
        "resolved",
        "reopened",
        "note",
        "resolved",
        "closed",
    ]
    # No internal note ever reached the requester, and each message went out once.
    for message in smtp.messages:
        if message["To"] == email:
            assert "INTERNAL" not in text_of(message) and "INTERNAL" not in html_of(message)
    assert smtp.store.duplicates() == {}
    keys = [m["Message-ID"] for m in smtp.messages if m["To"] == email]
    assert len(keys) == len(set(keys)) == 8  # account, received, note, pending, resolved ×2, reopened, closed

    # A reply after closing opens a new case linked to the old one.
    follow_up = await desk.post(
        f"/helpdesk/cases/{number}/reply", json={"body": "It is locked again."}, headers=requester
    )
    assert follow_up.status_code == 201, follow_up.text
    new_number = follow_up.json()["new_case_number"]
    assert new_number and new_number != number
    new_case = (await desk.get(f"/helpdesk/cases/{new_number}", headers=requester)).json()
    assert new_case["linked_case_number"] == number and new_case["state"] == "new"
    [linked_mail] = await smtp.wait_for(with_key(f"case-{new_number}:received"))
    assert f"#{number}" in text_of(linked_mail)
