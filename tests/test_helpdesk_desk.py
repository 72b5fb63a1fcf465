"""The agent workspace on the real stack (API, Temporal dev server, worker, database, SMTP
capture): the searchable, filtered, sorted, paged queue; the one reply box; reassign, priority
and team; macros in both languages; the collision notice; every change reaching the case
workflow as one update (one event in the case's log)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from api.app import create_app
from records.audit import AuditEntry
from records.db import transaction
from tests.conftest import eventually, login
from tests.test_helpdesk import (
    FAST_HELPDESK,
    case_events,
    make_agent,
    open_case,
    register_requester,
    text_of,
    with_key,
)
from worker.seed import DEMO_PASSWORD
from workflows.case import CaseWorkflow


@pytest.fixture
async def desk(settings, temporal, sessions, worker) -> AsyncIterator[httpx.AsyncClient]:
    """The API with help-desk settings of seconds (`tests.test_helpdesk.FAST_HELPDESK`)."""
    app = create_app(settings.model_copy(update=FAST_HELPDESK), temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cvms.test") as api:
        yield api


async def agent_headers(api: httpx.AsyncClient) -> dict[str, str]:
    return await login(api, "agent", DEMO_PASSWORD)


async def assert_replays(temporal: Any, *numbers: int) -> None:
    """The cases' histories (with the workspace's updates in them) replay against the code."""
    histories = [await temporal.get_workflow_handle(f"case-{n}").fetch_history() for n in numbers]

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


async def queue_numbers(api: httpx.AsyncClient, agent: dict[str, str], **params: Any) -> list[int]:
    response = await api.get("/helpdesk/agent/queue", params=params, headers=agent)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()]


async def test_the_queue_is_searched_filtered_sorted_and_paged(desk, smtp, sessions):
    email, requester = await register_requester(desk, smtp)
    word = uuid.uuid4().hex[:10]
    first = (await open_case(desk, requester, subject=f"Printer {word} jams", topic="scheduling"))["number"]
    second = (await open_case(desk, requester, subject="Label stock is low"))["number"]
    agent = await agent_headers(desk)

    # Search: a word of the subject, the case number (with or without "#"), the requester's email.
    assert await queue_numbers(desk, agent, q=word.upper()) == [first]
    assert await queue_numbers(desk, agent, q=f"#{second}") == [second]
    assert sorted(await queue_numbers(desk, agent, q=email)) == [first, second]
    # ... and the text of a public note, never of an internal one.
    public_word, internal_word = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]
    for word_, visibility in ((public_word, "public"), (internal_word, "internal")):
        sent = await desk.post(
            f"/helpdesk/agent/cases/{second}/reply",
            json={"body": f"About {word_}", "visibility": visibility},
            headers=agent,
        )
        assert sent.status_code == 200, sent.text
    assert await queue_numbers(desk, agent, q=public_word) == [second]
    assert await queue_numbers(desk, agent, q=internal_word) == []

    # Assignee: me / unassigned; one click from the pages is the same address.
    assert (
        await desk.post(f"/helpdesk/agent/cases/{first}/assign", json={}, headers=agent)
    ).status_code == 200
    assert first in await queue_numbers(desk, agent, q=email, assignee="me")
    assert await queue_numbers(desk, agent, q=email, assignee="none") == [second]

    # Priority and team filters.
    assert await queue_numbers(desk, agent, q=email, priority="high") == [second]  # login-access: high
    teams = {t["name"]: t["id"] for t in (await desk.get("/helpdesk/agent/teams", headers=agent)).json()}
    moved = await desk.post(
        f"/helpdesk/agent/cases/{second}/team", json={"team_id": teams["Recipient Support"]}, headers=agent
    )
    assert moved.status_code == 200, moved.text
    assert await queue_numbers(desk, agent, q=email, team=teams["Recipient Support"]) == [second]
    assert await queue_numbers(desk, agent, q=email, team=teams["Provider Support"]) == [first]

    # Sorting and pages: the total is in a header.
    assert await queue_numbers(desk, agent, q=email, sort="newest") == [second, first]
    assert await queue_numbers(desk, agent, q=email, sort="oldest") == [first, second]
    assert await queue_numbers(desk, agent, q=email, sort="priority") == [second, first]
    paged = await desk.get(
        "/helpdesk/agent/queue",
        params={"q": email, "sort": "oldest", "page": 2, "page_size": 1},
        headers=agent,
    )
    assert [c["number"] for c in paged.json()] == [second] and paged.headers["X-Total-Count"] == "2"

    bad = await desk.get("/helpdesk/agent/queue", params={"sort": "random"}, headers=agent)
    assert bad.status_code == 422 and bad.json()["code"]


async def test_the_reply_box_sends_each_change_to_the_case_once(desk, smtp, sessions):
    email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester))["number"]
    agent = await agent_headers(desk)
    path = f"/helpdesk/agent/cases/{number}/reply"

    # An internal note with a resolution is refused and changes nothing.
    before = await case_events(sessions, number)
    refused = await desk.post(
        path, json={"body": "Fixed.", "visibility": "internal", "then": "resolved"}, headers=agent
    )
    assert refused.status_code == 422 and refused.json()["code"] == "internal_resolution"
    empty = await desk.post(path, json={"body": "  ", "visibility": "public"}, headers=agent)
    assert empty.status_code == 422 and empty.json()["code"] == "empty_note"
    assert len(await case_events(sessions, number)) == len(before)

    # Internal note, then waiting on the requester, and a new priority: three changes, three events.
    internal = f"Internal check {uuid.uuid4().hex[:6]}"
    sent = await desk.post(
        path,
        json={"body": internal, "visibility": "internal", "then": "pending", "priority": "urgent"},
        headers=agent,
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["state"] == "pending" and sent.json()["priority"] == "urgent"
    kinds = [e.kind for e in (await case_events(sessions, number))[len(before) :]]
    assert kinds == ["priority", "note", "pending"]
    mine = (await desk.get(f"/helpdesk/cases/{number}", headers=requester)).json()
    assert internal not in str(mine)

    # A public reply is emailed once, and reaches the requester's page.
    public = f"Public answer {uuid.uuid4().hex[:6]}"
    sent = await desk.post(path, json={"body": public, "visibility": "public"}, headers=agent)
    assert sent.status_code == 200, sent.text
    [mail] = await smtp.wait_for(lambda m: m["To"] == email and public in text_of(m))
    mine = (await desk.get(f"/helpdesk/cases/{number}", headers=requester)).json()
    assert [n["body"] for n in mine["public_notes"]][-1] == public

    # A public reply that resolves is one change: the resolution.
    count = len(await case_events(sessions, number))
    resolved = await desk.post(
        path, json={"body": "Solved for you.", "visibility": "public", "then": "resolved"}, headers=agent
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    assert [e.kind for e in (await case_events(sessions, number))[count:]] == ["note", "resolved"]

    detail = (await desk.get(f"/helpdesk/agent/cases/{number}", headers=agent)).json()
    notes = [(n["visibility"], n["body"]) for n in detail["notes"]]
    assert ("internal", internal) in notes and ("public", public) in notes


async def test_reassign_and_moving_a_case_to_another_team(desk, smtp, sessions, temporal):
    _email, requester = await register_requester(desk, smtp)
    # "scheduling" is normal priority: the first response is due in 4 s (FAST_HELPDESK).
    number = (await open_case(desk, requester, topic="scheduling"))["number"]
    agent = await agent_headers(desk)
    mate_login, mate_id = await make_agent(sessions, "Provider Support")
    assigned = await desk.post(
        f"/helpdesk/agent/cases/{number}/assign", json={"agent_id": mate_id}, headers=agent
    )
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == mate_id

    teams = {t["name"]: t["id"] for t in (await desk.get("/helpdesk/agent/teams", headers=agent)).json()}
    mates = (
        await desk.get(f"/helpdesk/agent/teams/{teams['Provider Support']}/agents", headers=agent)
    ).json()
    assert mate_id in [a["agent_id"] for a in mates]
    moved = await desk.post(
        f"/helpdesk/agent/cases/{number}/team", json={"team_id": teams["Recipient Support"]}, headers=agent
    )
    assert moved.status_code == 200 and moved.json()["assignee_id"] is None
    again = await desk.post(
        f"/helpdesk/agent/cases/{number}/team", json={"team_id": teams["Recipient Support"]}, headers=agent
    )
    assert again.status_code == 409
    nowhere = await desk.post(f"/helpdesk/agent/cases/{number}/team", json={"team_id": 999999}, headers=agent)
    assert nowhere.status_code == 422 and nowhere.json()["code"] == "bad_team"

    # The old team's agent no longer sees it; the breach goes to the new team's address, once.
    mate = await login(desk, mate_login)
    assert (await desk.get(f"/helpdesk/agent/cases/{number}", headers=mate)).status_code == 404
    [breach] = await smtp.wait_for(with_key(f"case-{number}:breach:first_response:1"), timeout=30)
    assert breach["To"] == "recipient-support@cvms.example"
    events = await case_events(sessions, number)
    [team_event] = [e for e in events if e.kind == "team"]
    assert team_event.details["team_name"] == "Recipient Support" and team_event.actor.startswith("agent:")
    detail = (await desk.get(f"/helpdesk/agent/cases/{number}", headers=agent)).json()
    assert detail["team"] == "Recipient Support" and detail["assignee_id"] is None
    await assert_replays(temporal, number)


async def test_macros_fill_in_the_requesters_language_set_state_and_priority_and_are_audited(
    desk, smtp, sessions
):
    _email, spanish = await register_requester(desk, smtp, language="es")
    number = (await open_case(desk, spanish))["number"]  # Provider Support, high
    admin = await agent_headers(desk)
    teams = {t["name"]: t["id"] for t in (await desk.get("/helpdesk/agent/teams", headers=admin)).json()}
    macro = {
        "team_id": teams["Provider Support"],
        "name": f"Need a screenshot {uuid.uuid4().hex[:4]}",
        "body_en": "Hello {requester_name}, please send a screenshot for case {case_number}.",
        "body_es": "Hola {requester_name}, envíe una captura de pantalla para el caso {case_number}.",
        "set_state": "pending",
        "set_priority": "low",
    }
    plain_login, _ = await make_agent(sessions, "Provider Support")
    plain = await login(desk, plain_login)
    assert (await desk.post("/helpdesk/agent/macros", json=macro, headers=plain)).status_code == 403
    typo = macro | {"body_en": "Hello {name}"}
    bad = await desk.post("/helpdesk/agent/macros", json=typo, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "bad_macro"
    created = await desk.post("/helpdesk/agent/macros", json=macro, headers=admin)
    assert created.status_code == 201, created.text
    macro_id = created.json()["id"]
    clash = await desk.post("/helpdesk/agent/macros", json=macro, headers=admin)
    assert clash.status_code == 409

    filled = (await desk.get(f"/helpdesk/agent/cases/{number}/macros", headers=plain)).json()
    [mine] = [m for m in filled if m["id"] == macro_id]
    assert mine["body"] == f"Hola Ana Bell, envíe una captura de pantalla para el caso {number}."

    applied = await desk.post(
        f"/helpdesk/agent/cases/{number}/reply", json={"macro_id": macro_id}, headers=plain
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["state"] == "pending" and applied.json()["priority"] == "low"
    [asked] = await smtp.wait_for(lambda m: mine["body"] in text_of(m) and f"#{number}" in m["Subject"])
    assert asked is not None

    # A macro of another team is not offered for this case.
    other = macro | {"team_id": teams["Recipient Support"]}
    other_id = (await desk.post("/helpdesk/agent/macros", json=other, headers=admin)).json()["id"]
    foreign = await desk.post(
        f"/helpdesk/agent/cases/{number}/reply", json={"macro_id": other_id}, headers=admin
    )
    assert foreign.status_code == 404

    changed = await desk.put(
        f"/helpdesk/agent/macros/{macro_id}", json=macro | {"set_priority": ""}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["set_priority"] == ""
    for gone in (macro_id, other_id):
        assert (await desk.delete(f"/helpdesk/agent/macros/{gone}", headers=admin)).status_code == 204
    async with transaction(sessions) as db:
        actions = (
            await db.execute(
                select(AuditEntry.action).where(
                    AuditEntry.entity == "helpdesk_macro", AuditEntry.entity_id == str(macro_id)
                )
            )
        ).scalars()
        assert sorted(actions) == ["create", "delete", "update"]


@pytest.fixture
async def brief_presence(settings, temporal, sessions, worker) -> AsyncIterator[httpx.AsyncClient]:
    brief = FAST_HELPDESK | {"helpdesk_presence_seconds": 2.0}
    app = create_app(settings.model_copy(update=brief), temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cvms.test") as api:
        yield api


async def test_the_collision_notice_names_the_other_agent_until_the_presence_expires(
    brief_presence, smtp, sessions
):
    api = brief_presence
    _email, requester = await register_requester(api, smtp)
    number = (await open_case(api, requester))["number"]
    mate_login, _ = await make_agent(sessions, "Provider Support")
    first, second = await agent_headers(api), await login(api, mate_login)
    path = f"/helpdesk/agent/cases/{number}/presence"

    assert (await api.post(path, json={}, headers=first)).json() == []
    seen = (await api.post(path, json={}, headers=second)).json()
    assert seen == [{"agent": "Alex Agent", "replying": False}]
    assert (await api.post(path, json={"replying": True}, headers=first)).status_code == 200
    seen = (await api.post(path, json={}, headers=second)).json()
    assert seen == [{"agent": "Alex Agent", "replying": True}]

    async def gone() -> bool:
        return (await api.post(path, json={}, headers=second)).json() == []

    await eventually(gone, timeout=20, what="the first agent's presence to expire")


async def test_a_duplicate_merges_with_its_notes_and_attachments_and_its_requester_is_told_once(
    desk, smtp, sessions, temporal
):
    email, requester = await register_requester(desk, smtp)
    target = (await open_case(desk, requester, subject="Cannot log in"))["number"]
    picture = {"filename": "error.png", "content_type": "image/png", "content_base64": "iVBORw0KGgo="}
    duplicate = (await open_case(desk, requester, subject="Login broken again", attachment=picture))["number"]
    agent = await agent_headers(desk)
    note = f"Checked the account {uuid.uuid4().hex[:6]}"
    noted = await desk.post(
        f"/helpdesk/agent/cases/{duplicate}/reply",
        json={"body": note, "visibility": "internal"},
        headers=agent,
    )
    assert noted.status_code == 200, noted.text

    itself = await desk.post(
        f"/helpdesk/agent/cases/{duplicate}/merge", json={"into": duplicate}, headers=agent
    )
    assert itself.status_code == 422 and itself.json()["code"] == "bad_merge"
    unknown = await desk.post(
        f"/helpdesk/agent/cases/{duplicate}/merge", json={"into": 9_999_999}, headers=agent
    )
    assert unknown.status_code == 404

    merged = await desk.post(f"/helpdesk/agent/cases/{duplicate}/merge", json={"into": target}, headers=agent)
    assert merged.status_code == 200, merged.text
    assert merged.json()["state"] == "closed"
    again = await desk.post(f"/helpdesk/agent/cases/{duplicate}/merge", json={"into": target}, headers=agent)
    assert again.status_code == 409

    detail = (await desk.get(f"/helpdesk/agent/cases/{target}", headers=agent)).json()
    bodies = [(n["visibility"], n["purpose"], n["body"]) for n in detail["notes"]]
    assert ("internal", "merged", note) in bodies
    assert any(b.startswith(f"#{duplicate}: Login broken again") for _v, _p, b in bodies)
    assert [a["filename"] for a in detail["attachments"]] == ["error.png"]
    assert "merged_in" in [e["kind"] for e in detail["events"]]
    old = (await desk.get(f"/helpdesk/agent/cases/{duplicate}", headers=agent)).json()
    assert old["state"] == "closed" and old["linked_case_number"] == target and old["attachments"] == []
    assert [e["kind"] for e in old["events"]][-2:] == ["merged", "closed"]

    [told] = await smtp.wait_for(with_key(f"case-{duplicate}:merged"))
    assert told["To"] == email and f"#{target}" in told["Subject"]
    assert f"/helpdesk/cases/{target}" in text_of(told)
    # The requester sees the attachment on the case it moved to.
    mine = (await desk.get(f"/helpdesk/cases/{target}", headers=requester)).json()
    assert [a["filename"] for a in mine["attachments"]] == ["error.png"]
    assert note not in str(mine)  # the internal note stayed internal

    assert len([m for m in smtp.messages if with_key(f"case-{duplicate}:merged")(m)]) == 1
    await assert_replays(temporal, target, duplicate)


async def test_related_cases_are_linked_both_ways(desk, smtp, sessions, temporal):
    _email, requester = await register_requester(desk, smtp)
    one = (await open_case(desk, requester))["number"]
    two = (await open_case(desk, requester, subject="Another clinic, same problem"))["number"]
    agent = await agent_headers(desk)
    linked = await desk.post(f"/helpdesk/agent/cases/{one}/links", json={"number": two}, headers=agent)
    assert linked.status_code == 200, linked.text
    twice = await desk.post(f"/helpdesk/agent/cases/{one}/links", json={"number": two}, headers=agent)
    assert twice.status_code == 409 and twice.json()["code"] == "already_linked"
    assert (
        await desk.post(f"/helpdesk/agent/cases/{one}/links", json={"number": one}, headers=agent)
    ).status_code == 422
    for here, there in ((one, two), (two, one)):
        related = (await desk.get(f"/helpdesk/agent/cases/{here}/links", headers=agent)).json()
        assert [r["number"] for r in related] == [there]
    events = await case_events(sessions, one)
    [event] = [e for e in events if e.kind == "linked"]
    assert event.details["related_number"] == two and event.actor.startswith("agent:")
    await assert_replays(temporal, one)
