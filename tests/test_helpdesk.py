"""The help desk end to end on the real parts: API, Temporal dev server, worker,
database and SMTP capture. Cases here run on a round-the-clock calendar with
SLA targets and windows of seconds (settings), so a whole life takes seconds."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

from api.app import create_app
from domain.helpdesk import case_workflow_id
from domain.security import hash_password
from notifications.capture import CaptureServer
from records.db import transaction, utcnow
from records.helpdesk import Agent, Case, CaseEventRecord, Requester, Team, TeamMember
from records.outbox import OutboxMessage
from records.users import User
from records.workflow_starts import PendingWorkflowStart
from services.temporal import TemporalGateway
from services.workflow_starts import start_pending
from tests.conftest import eventually, login
from worker.devserver import free_port
from worker.main import build_worker
from worker.seed import DEMO_PASSWORD
from workflows.case import CaseWorkflow

# Round the clock; "normal" cases must get a first response within 4 s, others have 10 min.
FAST_HELPDESK = dict(
    helpdesk_hours="always",
    helpdesk_sla_targets="urgent=600/600,high=600/600,normal=4/600,low=600/600",
    helpdesk_auto_close_seconds=4.0,
    helpdesk_reopen_window_seconds=60.0,
    helpdesk_survey_delay_seconds=0,  # no survey: tests/test_helpdesk_survey.py asks for one
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
    """Registers, sets a password through the emailed single-use link (which confirms the
    address); returns the email and bearer headers of a ready requester."""
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
    link = re.search(r"/helpdesk/set-password\?token=(\S+)", text_of(mail))
    assert link, text_of(mail)
    chosen = await api.post(
        "/helpdesk/set-password", json={"token": link[1], "password": "my own password 42"}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["confirmed"] is True and chosen.json()["must_change_password"] is False
    spent = await api.post("/helpdesk/set-password", json={"token": link[1], "password": "another one 4242"})
    assert spent.status_code == 422 and spent.json()["code"] == "bad_link"
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


async def agent_case(api: httpx.AsyncClient, agent: dict[str, str], number: int) -> dict[str, Any]:
    response = await api.get(f"/helpdesk/agent/cases/{number}", headers=agent)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_missed_first_response_escalates_to_the_team_exactly_once(desk, smtp, sessions):
    _email, requester = await register_requester(desk, smtp)
    case = await open_case(desk, requester, topic="switching-locations")  # normal: 4 s first response
    number = case["number"]
    assert case["priority"] == "normal"
    breach_key = f"case-{number}:breach:first_response:1"
    [breach] = await smtp.wait_for(with_key(breach_key), timeout=30)
    assert breach["To"] == "provider-support@cvms.example"
    assert f"#{number}" in breach["Subject"] and "first response" in breach["Subject"]

    agent = await agent_headers(desk)
    view = await agent_case(desk, agent, number)
    assert view["first_response_breached"] is True and view["sla_status"] == "breached"
    created = datetime.fromisoformat(case["created_at"])
    due = datetime.fromisoformat(view["sla"]["first_response"]["breached_at"])
    assert abs((due - created) - timedelta(seconds=FIRST_RESPONSE_SECONDS)) < timedelta(milliseconds=5)
    breached = (await desk.get("/helpdesk/agent/queue", params={"sla": "breached"}, headers=agent)).json()
    assert number in [item["number"] for item in breached]

    # Later changes recompute the timers but never escalate the same breach again.
    await desk.post(f"/helpdesk/agent/cases/{number}/assign", json={}, headers=agent)
    noted = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes",
        json={"body": "Looking at it now.", "visibility": "public"},
        headers=agent,
    )
    assert noted.status_code == 200
    await smtp.wait_for(lambda m: m["To"] == _email and "new note" in m["Subject"])
    breach_events = [e for e in await case_events(sessions, number) if e.kind == "breach"]
    assert [e.details["target"] for e in breach_events] == ["first_response"]
    assert len([m for m in smtp.messages if with_key(breach_key)(m)]) == 1
    assert not [m for m in smtp.messages if with_key(f"case-{number}:breach:resolution:1")(m)]
    assert smtp.store.duplicates() == {}


async def test_a_case_pending_before_its_target_does_not_breach_while_pending(desk, smtp, sessions):
    email, requester = await register_requester(desk, smtp)
    case = await open_case(desk, requester, topic="scheduling")  # normal: 4 s first response
    number = case["number"]
    agent = await agent_headers(desk)
    pending = await desk.post(f"/helpdesk/agent/cases/{number}/pending", json={}, headers=agent)
    assert pending.status_code == 200, pending.text
    created = datetime.fromisoformat(case["created_at"])
    events = {e.kind: e for e in await case_events(sessions, number)}
    assert events["pending"].at - created < timedelta(seconds=FIRST_RESPONSE_SECONDS)

    # Well past the instant the target would have been due had the clock kept running.
    original_due = created + timedelta(seconds=FIRST_RESPONSE_SECONDS)
    await eventually(
        lambda: _after(original_due + timedelta(seconds=1.5)),
        timeout=10,
        what="the original due instant to pass",
    )
    view = await agent_case(desk, agent, number)
    assert view["first_response_breached"] is False and view["state"] == "pending"
    assert view["sla"]["first_response"]["status"] == "paused"
    assert view["sla"]["first_response"]["elapsed_business_seconds"] < FIRST_RESPONSE_SECONDS
    assert "breach" not in [e.kind for e in await case_events(sessions, number)]
    assert not [m for m in smtp.messages if with_key(f"case-{number}:breach:first_response:1")(m)]

    # The reply resumes the clock: the breach comes, later by exactly the time spent pending.
    replied = await desk.post(
        f"/helpdesk/cases/{number}/reply", json={"body": "Here it is."}, headers=requester
    )
    assert replied.json()["state"] == "open"
    await smtp.wait_for(with_key(f"case-{number}:breach:first_response:1"), timeout=30)

    async def breach_recorded():  # the email and the event row are written by separate steps
        events = await case_events(sessions, number)
        return events if any(e.kind == "breach" for e in events) else None

    events = await eventually(breach_recorded, timeout=30, what="the breach event")
    paused = next(e.at for e in events if e.kind == "open") - next(
        e.at for e in events if e.kind == "pending"
    )
    breach = next(e for e in events if e.kind == "breach")
    assert abs(datetime.fromisoformat(breach.details["due_at"]) - (original_due + paused)) < timedelta(
        milliseconds=5
    )


async def _after(instant: datetime) -> bool:
    return utcnow() > instant


async def test_one_requester_cannot_see_or_change_another_requesters_case(desk, smtp):
    _a, ana = await register_requester(desk, smtp)
    _b, ben = await register_requester(desk, smtp, email=unique_email("ben"))
    case = await open_case(
        desk,
        ana,
        attachment={"filename": "shot.png", "content_type": "image/png", "content_base64": "iVBORw0KGgo="},
    )
    number = case["number"]
    mine = (await desk.get(f"/helpdesk/cases/{number}", headers=ana)).json()
    [attachment] = mine["attachments"]
    for method, path, body in (
        ("GET", f"/helpdesk/cases/{number}", None),
        ("GET", f"/helpdesk/cases/{number}/attachments/{attachment['id']}", None),
        ("POST", f"/helpdesk/cases/{number}/reply", {"body": "let me in"}),
        ("POST", f"/helpdesk/cases/{number}/reopen", None),
    ):
        response = await desk.request(method, path, json=body, headers=ben)
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
    assert number not in [c["number"] for c in (await desk.get("/helpdesk/cases", headers=ben)).json()]
    assert number in [c["number"] for c in (await desk.get("/helpdesk/cases", headers=ana)).json()]
    download = await desk.get(f"/helpdesk/cases/{number}/attachments/{attachment['id']}", headers=ana)
    assert download.status_code == 200 and download.content == b"\x89PNG\r\n\x1a\n"
    agent = await agent_headers(desk)
    seen = await desk.get(f"/helpdesk/agent/cases/{number}/attachments/{attachment['id']}", headers=agent)
    assert seen.status_code == 200 and seen.headers["content-type"] == "image/png"


async def test_a_requester_login_has_no_provider_access(desk, smtp):
    _email, requester = await register_requester(desk, smtp)
    assert (await desk.get("/auth/me", headers=requester)).status_code == 403
    assert (await desk.get("/location", headers=requester)).status_code == 403
    assert (await desk.get("/helpdesk/agent/queue", headers=requester)).status_code == 403
    provider = await login(desk, "provider")
    assert (await desk.get("/helpdesk/cases", headers=provider)).status_code == 403
    assert (await desk.get("/helpdesk/agent/queue", headers=provider)).status_code == 403


async def test_registration_answers_alike_whether_or_not_the_email_has_an_account(desk, smtp):
    """A stranger cannot learn who has an account: registering a known email is the same 202 as a
    new one; the account's owner is told by email (in their language), with a single-use link to
    set a new password, and their current password keeps working until they use it."""
    body = {
        "first_name": "Cy",
        "last_name": "Doe",
        "email": unique_email("cy"),
        "registration_code": "NOPE-0000",
        "preferred_language": "es",
    }
    bad = await desk.post("/helpdesk/register", json=body)
    assert bad.status_code == 422 and bad.json()["code"] == "bad_registration_code"
    generic = await desk.post("/helpdesk/register", json=body | {"registration_code": "cvms-help-2026"})
    assert generic.status_code == 202, generic.text
    again = await desk.post("/helpdesk/register", json=body | {"registration_code": "BUNC-3307"})
    assert again.status_code == 202 and again.json() == generic.json()
    wrong = await desk.post("/helpdesk/login", json={"email": body["email"], "password": "not it at all"})
    assert wrong.status_code == 401

    def told(message: EmailMessage) -> bool:
        return to(body["email"])(message) and "ya tiene una cuenta" in str(message["Subject"])

    [notice] = await smtp.wait_for(told)
    link = re.search(r"/helpdesk/set-password\?token=(\S+)", text_of(notice))
    assert link and "temporary" not in text_of(notice).lower(), text_of(notice)
    page = await desk.get(f"/helpdesk/set-password?token={link[1]}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and link[1] in page.text
    new_password = "a brand new password 7"
    changed = await desk.post("/helpdesk/set-password", json={"token": link[1], "password": new_password})
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change_password"] is False and changed.json()["confirmed"] is True
    reused = await desk.post(
        "/helpdesk/set-password", json={"token": link[1], "password": "yet another 12345"}
    )
    assert reused.status_code == 422 and reused.json()["code"] == "bad_link"
    logged_in = await desk.post("/helpdesk/login", json={"email": body["email"], "password": new_password})
    assert logged_in.status_code == 200, logged_in.text


async def test_spanish_requester_gets_spanish_email(desk, smtp):
    email, requester = await register_requester(desk, smtp, language="es")
    case = await open_case(desk, requester, category="recipient", topic="vaccination-record")
    assert case["team"] == "Recipient Support"
    [received] = await smtp.wait_for(with_key(f"case-{case['number']}:received"))
    assert received["Subject"].startswith("Recibimos su caso") and "Qué sigue" in text_of(received)
    assert received["Content-Language"] == "es"


async def test_intake_checks_category_topic_and_attachment_limits(desk, smtp, settings):
    _email, requester = await register_requester(desk, smtp)
    base = {"category": "vaccine-provider", "topic": "scheduling", "subject": "Help", "description": "x"}

    async def refused(**changes: Any) -> str:
        response = await desk.post("/helpdesk/cases", json=base | changes, headers=requester)
        assert response.status_code == 422, response.text
        return response.json().get("code", "")

    assert await refused(category="nope") == "bad_category"
    assert await refused(topic="nope") == "bad_topic"
    exe = {"filename": "x.exe", "content_type": "application/x-msdownload", "content_base64": "AAAA"}
    assert await refused(attachment=exe) == "attachment_type"
    big = base64.b64encode(b"x" * (settings.helpdesk_attachment_max_bytes + 1)).decode()
    huge = {"filename": "big.pdf", "content_type": "application/pdf", "content_base64": big}
    assert await refused(attachment=huge) == "attachment_size"
    mine = (await desk.get("/helpdesk/cases", headers=requester)).json()
    assert mine == []  # nothing was opened by the refused requests


async def test_agents_assign_teammates_change_priority_and_see_only_their_teams(desk, smtp, sessions):
    _email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester))["number"]
    teammate_login, teammate_id = await make_agent(sessions, "Provider Support")
    outsider_login, _ = await make_agent(sessions, "Recipient Support")
    agent = await agent_headers(desk)

    assigned = await desk.post(
        f"/helpdesk/agent/cases/{number}/assign", json={"agent_id": teammate_id}, headers=agent
    )
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == teammate_id
    _outsider_id = (await desk.get("/helpdesk/agent/me", headers=await login(desk, outsider_login))).json()
    refused = await desk.post(
        f"/helpdesk/agent/cases/{number}/assign", json={"agent_id": _outsider_id["agent_id"]}, headers=agent
    )
    assert refused.status_code == 422

    teammate = await login(desk, teammate_login)
    theirs = (await desk.get("/helpdesk/agent/queue", params={"assignee": "me"}, headers=teammate)).json()
    assert [c["number"] for c in theirs] == [number]
    outsider = await login(desk, outsider_login)
    assert (await desk.get(f"/helpdesk/agent/cases/{number}", headers=outsider)).status_code == 404
    assert number not in [
        c["number"] for c in (await desk.get("/helpdesk/agent/queue", headers=outsider)).json()
    ]

    raised = await desk.post(
        f"/helpdesk/agent/cases/{number}/priority", json={"priority": "urgent"}, headers=teammate
    )
    assert raised.status_code == 200 and raised.json()["priority"] == "urgent"
    assert raised.json()["sla"]["priority"] == "urgent"
    same = await desk.post(
        f"/helpdesk/agent/cases/{number}/priority", json={"priority": "urgent"}, headers=teammate
    )
    assert same.status_code == 409
    urgent = (await desk.get("/helpdesk/agent/queue", params={"priority": "urgent"}, headers=teammate)).json()
    assert number in [c["number"] for c in urgent]
    not_resolved = await desk.post(f"/helpdesk/agent/cases/{number}/reopen", headers=teammate)
    assert not_resolved.status_code == 409


async def test_routing_rules_and_topic_priorities_are_data_an_administrator_changes(desk, smtp, sessions):
    _email, requester = await register_requester(desk, smtp)
    admin = await agent_headers(desk)
    teams = {
        t["name"]: t["id"] for t in (await desk.get("/helpdesk/agent/me", headers=admin)).json()["teams"]
    }
    rule = {
        "category": "vaccine-provider",
        "topic": "vaccination-record",
        "team_id": teams["Recipient Support"],
    }
    plain_login, _ = await make_agent(sessions, "Provider Support")
    plain = await login(desk, plain_login)
    assert (await desk.put("/helpdesk/agent/routing-rules", json=rule, headers=plain)).status_code == 403
    try:
        assert (await desk.put("/helpdesk/agent/routing-rules", json=rule, headers=admin)).status_code == 200
        case = await open_case(desk, requester, topic="vaccination-record")
        assert case["team"] == "Recipient Support"
        assert (await open_case(desk, requester, topic="scheduling"))["team"] == "Provider Support"
    finally:
        back = rule | {"team_id": teams["Provider Support"]}
        assert (await desk.put("/helpdesk/agent/routing-rules", json=back, headers=admin)).status_code == 200

    # The topic gives new cases their priority; an administrator changes it.
    categories = (await desk.get("/helpdesk/categories")).json()
    topic = next(t for c in categories if c["code"] == "other" for t in c["topics"] if t["code"] == "other")
    path = f"/helpdesk/agent/topics/{topic['id']}"
    assert (await desk.put(path, json={"default_priority": "urgent"}, headers=plain)).status_code == 403
    try:
        assert (await desk.put(path, json={"default_priority": "urgent"}, headers=admin)).status_code == 200
        case = await open_case(desk, requester, category="other", topic="other")
        assert case["priority"] == "urgent" and case["team"] == "General Support"
    finally:
        restore = {"default_priority": topic["default_priority"]}
        assert (await desk.put(path, json=restore, headers=admin)).status_code == 200


async def make_agent(sessions: Any, team_name: str) -> tuple[str, int]:
    """A new agent user on one team; returns its login name and agent id."""
    login_name = f"agent.{uuid.uuid4().hex[:6]}"
    async with transaction(sessions) as db:
        user = User(
            login_name=login_name,
            email=f"{login_name}@cvms.test",
            first_name="Ty",
            last_name="Mate",
            password_hash=hash_password(DEMO_PASSWORD),
        )
        db.add(user)
        await db.flush()
        agent = Agent(user_id=user.id, display_name=f"Ty Mate {login_name}")
        db.add(agent)
        await db.flush()
        team = (await db.execute(select(Team).where(Team.name == team_name))).scalar_one()
        db.add(TeamMember(team_id=team.id, agent_id=agent.id))
        return login_name, agent.id


async def test_the_queue_puts_the_oldest_breach_first_and_filters_by_sla_state(desk, smtp):
    _email, requester = await register_requester(desk, smtp)
    older = (await open_case(desk, requester, topic="scheduling"))["number"]  # normal: breaches in 4 s
    newer = (await open_case(desk, requester, topic="switching-locations"))["number"]
    calm = (await open_case(desk, requester, topic="login-access"))["number"]  # high: 10 min
    await smtp.wait_for(with_key(f"case-{newer}:breach:first_response:1"), timeout=30)
    await smtp.wait_for(with_key(f"case-{older}:breach:first_response:1"), timeout=30)
    agent = await agent_headers(desk)

    queue = [c["number"] for c in (await desk.get("/helpdesk/agent/queue", headers=agent)).json()]
    assert queue.index(older) < queue.index(newer) < queue.index(calm)
    breached = [
        c["number"]
        for c in (await desk.get("/helpdesk/agent/queue", params={"sla": "breached"}, headers=agent)).json()
    ]
    assert older in breached and newer in breached and calm not in breached
    ok = (await desk.get("/helpdesk/agent/queue", params={"sla": "ok", "state": "new"}, headers=agent)).json()
    assert calm in [c["number"] for c in ok] and all(c["state"] == "new" for c in ok)


@pytest.fixture(scope="session")
def short_reopen_app(settings, temporal, sessions, worker) -> Any:
    """Cases that may be reopened for one second after resolution and never close by themselves."""
    update = FAST_HELPDESK | {"helpdesk_reopen_window_seconds": 1.0, "helpdesk_auto_close_seconds": 3600.0}
    return create_app(settings.model_copy(update=update), temporal)


async def test_reopening_after_the_window_is_refused_and_changes_nothing(short_reopen_app, smtp, sessions):
    transport = httpx.ASGITransport(app=short_reopen_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as api:
        _email, requester = await register_requester(api, smtp)
        number = (await open_case(api, requester))["number"]
        agent = await agent_headers(api)
        resolved = await api.post(
            f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": "Done."}, headers=agent
        )
        assert resolved.status_code == 200
        resolved_at = next(e.at for e in await case_events(sessions, number) if e.kind == "resolved")
        await eventually(
            lambda: _after(resolved_at + timedelta(seconds=1.2)), timeout=10, what="the reopen window to pass"
        )
        before = len(await case_events(sessions, number))
        for headers, path in (
            (requester, f"/helpdesk/cases/{number}/reopen"),
            (agent, f"/helpdesk/agent/cases/{number}/reopen"),
        ):
            refused = await api.post(path, headers=headers)
            assert refused.status_code == 409 and "window" in refused.json()["detail"], refused.text
        assert len(await case_events(sessions, number)) == before
        assert (await api.get(f"/helpdesk/cases/{number}", headers=requester)).json()["state"] == "resolved"


async def test_recorded_case_histories_replay_deterministically(desk, smtp, temporal):
    """Every case workflow this session ran (closed or still open) replays against the current
    code: the workflow is deterministic, and a change that breaks running cases fails here."""
    _email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester))["number"]
    agent = await agent_headers(desk)
    await desk.post(
        f"/helpdesk/agent/cases/{number}/notes", json={"body": "Hi", "visibility": "public"}, headers=agent
    )
    runs = [
        (execution.id, execution.run_id)
        async for execution in temporal.list_workflows("WorkflowType = 'CaseWorkflow'", limit=60)
    ]
    histories = [await temporal.get_workflow_handle(i, run_id=r).fetch_history() for i, r in runs]
    if f"case-{number}" not in [i for i, _ in runs]:  # visibility lags a moment behind
        histories.append(await temporal.get_workflow_handle(f"case-{number}").fetch_history())

    async def recorded() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    replayer = Replayer(
        workflows=[CaseWorkflow],
        data_converter=temporal.data_converter,
        # A busy machine can hold a replay past the deadlock timer; it proves nothing about determinism.
        debug_mode=True,
    )
    results = await replayer.replay_workflows(recorded(), raise_on_replay_failure=False)
    assert results.replay_failures == {}, results.replay_failures


async def test_a_mail_relay_outage_does_not_delay_escalation_and_owed_email_goes_out_once(
    settings, temporal, sessions, state_dir
):
    port = free_port()
    relay = CaptureServer(state_dir / f"helpdesk-relay-{port}", port=port)  # not started: the relay is down
    outage = settings.model_copy(
        update={**FAST_HELPDESK, "smtp_port": port, "temporal_task_queue": f"cvms-hd-{uuid.uuid4().hex[:6]}"}
    )
    email = unique_email("outage")
    async with transaction(sessions) as db:
        db.add(
            Requester(
                first_name="Out",
                last_name="Age",
                email=email,
                password_hash=hash_password(DEMO_PASSWORD),
                must_change_password=False,
                confirmed=True,
            )
        )
    async with build_worker(temporal, outage):
        transport = httpx.ASGITransport(app=create_app(outage, temporal))
        async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as api:
            token = (
                await api.post("/helpdesk/login", json={"email": email, "password": DEMO_PASSWORD})
            ).json()
            number = (
                await open_case(api, {"Authorization": f"Bearer {token['token']}"}, topic="scheduling")
            )["number"]

        async def breach_recorded() -> bool:
            return any(e.kind == "breach" for e in await case_events(sessions, number))

        # The breach is flagged on time although the "case received" email is still owed.
        await eventually(breach_recorded, timeout=30, what="the breach to be recorded")

        async def received_failed() -> OutboxMessage | None:  # its failed attempt recorded
            async with transaction(sessions) as db:
                row = await db.get(OutboxMessage, f"case-{number}:received")
            return row if row is not None and row.last_error else None

        received = await eventually(received_failed, timeout=30, what="the failed attempt")
        assert received.sent_at is None
        relay.start()  # the relay comes back
        try:
            await relay.wait_for(with_key(f"case-{number}:received"), timeout=60)
            await relay.wait_for(with_key(f"case-{number}:breach:first_response:1"), timeout=60)
            assert relay.store.duplicates() == {}
            assert len([m for m in relay.messages if with_key(f"case-{number}:received")(m)]) == 1
        finally:
            relay.stop()


async def test_an_intake_temporal_cannot_take_is_kept_and_its_case_workflow_starts_later(
    settings, sessions, temporal, worker
):
    """The case is committed with the start of its workflow promised in the same transaction;
    the reconciler starts it once Temporal takes it (here: a gateway that can reach it)."""
    # An API whose Temporal namespace does not exist: every workflow start fails.
    queue = f"cvms-down-{uuid.uuid4().hex[:6]}"
    unreachable = create_app(
        settings.model_copy(
            update={**FAST_HELPDESK, "temporal_namespace": "no-such-ns", "temporal_task_queue": queue}
        )
    )
    email = unique_email("down")
    async with transaction(sessions) as db:
        db.add(
            Requester(
                first_name="Dee",
                last_name="Own",
                email=email,
                password_hash=hash_password(DEMO_PASSWORD),
                must_change_password=False,
                confirmed=True,
            )
        )
    transport = httpx.ASGITransport(app=unreachable)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as api:
        token = (await api.post("/helpdesk/login", json={"email": email, "password": DEMO_PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        body = {"category": "other", "topic": "other", "subject": "Anyone?", "description": "Hello"}
        kept = await api.post("/helpdesk/cases", json=body, headers=headers)
        assert kept.status_code == 201, kept.text
        number = kept.json()["number"]
        assert [c["number"] for c in (await api.get("/helpdesk/cases", headers=headers)).json()] == [number]

    async def tried_and_pending() -> PendingWorkflowStart | None:
        async with transaction(sessions) as db:
            row = await db.scalar(
                select(PendingWorkflowStart).where(
                    PendingWorkflowStart.workflow_id == case_workflow_id(number)
                )
            )
            return row if row is not None and row.attempts > 0 else None

    pending = await eventually(tried_and_pending, timeout=15, what="the first try")
    assert pending.started_at is None and pending.last_error
    # A worker of the same task queue, reaching Temporal, starts it once.
    reachable = TemporalGateway(temporal, queue)
    assert await start_pending(reachable, sessions, ids=[pending.id]) == 1
    described = await temporal.get_workflow_handle(case_workflow_id(number)).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert await start_pending(reachable, sessions, ids=[pending.id]) == 0
