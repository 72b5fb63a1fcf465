"""Satisfaction surveys and the next-update clock on the real stack (API, Temporal dev server,
worker, database, SMTP capture), on a round-the-clock calendar with times of seconds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from records.db import transaction
from records.helpdesk import Case, CaseEventRecord
from records.outbox import OutboxMessage
from tests.conftest import eventually
from tests.test_helpdesk import (
    FAST_HELPDESK,
    agent_headers,
    case_events,
    open_case,
    register_requester,
    text_of,
    with_key,
)

SURVEY_DELAY = 6.0
# Normal cases: the requester waits at most 3 s for an agent's answer (the next-update clock).
SURVEYED = FAST_HELPDESK | {
    "helpdesk_survey_delay_seconds": SURVEY_DELAY,
    "helpdesk_auto_close_seconds": 3600.0,
    "helpdesk_sla_targets": "urgent=600/600/600,high=600/600/600,normal=600/600/3,low=600/600/600",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def survey_app(settings, temporal, sessions, worker) -> Any:
    return create_app(settings.model_copy(update=SURVEYED), temporal)


@pytest.fixture
async def desk(survey_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=survey_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as client:
        yield client


def survey_links(message: Any) -> dict[str, str]:
    found = dict(re.findall(r"(/helpdesk/survey\?token=[^\s&]+&rating=(good|bad))", text_of(message)))
    return {rating: link.split("?token=")[1].split("&")[0] for link, rating in found.items()}


async def resolve(desk: httpx.AsyncClient, agent: dict[str, str], number: int, text: str = "Fixed.") -> None:
    resolved = await desk.post(
        f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": text}, headers=agent
    )
    assert resolved.status_code == 200, resolved.text


async def test_the_survey_is_sent_once_and_its_link_is_refused_on_a_second_use(desk, smtp, sessions):
    email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester, topic="switching-locations"))["number"]
    agent = await agent_headers(desk)
    await resolve(desk, agent, number)

    [survey] = await smtp.wait_for(with_key(f"case-{number}:survey"), timeout=60)
    assert survey["To"] == email and f"#{number}" in survey["Subject"]
    tokens = survey_links(survey)
    assert set(tokens) == {"good", "bad"}

    # The link opens the question; nothing is recorded until the requester sends the answer.
    opened = await desk.get("/helpdesk/survey", params={"token": tokens["bad"]})
    assert opened.status_code == 200 and opened.json()["rating"] is None, opened.text
    page = await desk.get(
        "/helpdesk/survey", params={"token": tokens["bad"], "rating": "bad"}, headers={"Accept": "text/html"}
    )
    assert page.status_code == 200 and 'value="bad" checked' in page.text

    tampered = await desk.post(
        "/helpdesk/survey", json={"token": tokens["bad"][:-3] + "xyz", "rating": "bad"}
    )
    assert tampered.status_code == 403 and tampered.json()["code"] == "link_invalid"
    wrong = await desk.post("/helpdesk/survey", json={"token": tokens["bad"], "rating": "meh"})
    assert wrong.status_code == 422

    rated = await desk.post(
        "/helpdesk/survey", json={"token": tokens["bad"], "rating": "bad", "comment": "Took two tries."}
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == "bad" and rated.json()["number"] == number

    # A second use, of the same link or the other one, is refused and changes nothing.
    for token in (tokens["bad"], tokens["good"]):
        again = await desk.post("/helpdesk/survey", json={"token": token, "rating": "good"})
        assert again.status_code == 409 and again.json()["code"] == "link_used", again.text
    spent_page = await desk.get(
        "/helpdesk/survey",
        params={"token": tokens["good"], "rating": "good"},
        headers={"Accept": "text/html"},
    )
    assert spent_page.status_code == 409 and "already been answered" in spent_page.text

    # The rating shows on the case, and the survey went out once.
    view = (await desk.get(f"/helpdesk/agent/cases/{number}", headers=agent)).json()
    assert view["satisfaction"]["rating"] == "bad" and view["satisfaction"]["comment"] == "Took two tries."
    case_page = await desk.get(f"/helpdesk/agent/cases/{number}", headers={**agent, "Accept": "text/html"})
    assert 'data-rating="bad"' in case_page.text and "Took two tries." in case_page.text
    assert len([m for m in smtp.messages if with_key(f"case-{number}:survey")(m)]) == 1
    assert smtp.store.duplicates() == {}


async def test_a_reopen_cancels_a_survey_not_yet_sent(desk, smtp, sessions):
    _email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester, topic="switching-locations"))["number"]
    agent = await agent_headers(desk)
    await resolve(desk, agent, number)
    reopened = await desk.post(f"/helpdesk/cases/{number}/reopen", headers=requester)
    assert reopened.status_code == 200, reopened.text
    await resolve(desk, agent, number, "Fixed for good.")

    await smtp.wait_for(with_key(f"case-{number}:survey"), timeout=60)
    resolutions = [e.at for e in await case_events(sessions, number) if e.kind == "resolved"]

    async def recorded() -> OutboxMessage | None:  # the send is recorded right after it
        async with transaction(sessions) as db:
            return await db.get(OutboxMessage, f"case-{number}:survey")

    asked = await eventually(recorded, timeout=15, what="the survey's outbox row")
    # The survey counts from the last resolution: the one the reopen cancelled never went out.
    assert asked is not None and len(resolutions) == 2
    assert asked.created_at >= resolutions[-1] + timedelta(seconds=SURVEY_DELAY)


async def test_the_next_update_clock_breaches_once_and_shows_on_the_case_and_queue(desk, smtp, sessions):
    _email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester, topic="switching-locations"))["number"]
    agent = await agent_headers(desk)
    noted = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes",
        json={"body": "Looking into it.", "visibility": "public"},
        headers=agent,
    )
    assert noted.status_code == 200, noted.text
    view = (await desk.get(f"/helpdesk/agent/cases/{number}", headers=agent)).json()
    assert view["sla"]["next_update"]["status"] == "idle"

    replied = await desk.post(
        f"/helpdesk/cases/{number}/reply", json={"body": "Any news?"}, headers=requester
    )
    assert replied.status_code == 200, replied.text
    [breach] = await smtp.wait_for(with_key(f"case-{number}:breach:next_update:1"), timeout=60)
    assert breach["To"] == "provider-support@cvms.example" and "next update" in breach["Subject"]

    view = (await desk.get(f"/helpdesk/agent/cases/{number}", headers=agent)).json()
    assert view["next_update_breached"] is True and view["sla_status"] == "breached"
    assert view["sla"]["next_update"]["status"] == "breached" and view["sla"]["next_update_breaches"] == 1
    queue = (await desk.get("/helpdesk/agent/queue", params={"sla": "breached"}, headers=agent)).json()
    [item] = [c for c in queue if c["number"] == number]
    assert item["next_update_breached"] is True and item["sla"]["next_update"]["status"] == "breached"
    page = await desk.get(f"/helpdesk/agent/cases/{number}", headers={**agent, "Accept": "text/html"})
    assert 'data-clock="next_update" data-status="breached"' in page.text

    # The agent answers: the wait ends; a breach escalated once stays one breach.
    answered = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes",
        json={"body": "Fixed now.", "visibility": "public"},
        headers=agent,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["sla"]["next_update"]["running"] is False
    async with transaction(sessions) as db:
        case = (await db.execute(select(Case).where(Case.number == number))).scalar_one()
        breaches = (
            await db.execute(
                select(CaseEventRecord).where(
                    CaseEventRecord.case_id == case.id, CaseEventRecord.kind == "breach"
                )
            )
        ).scalars()
        targets = [b.details["target"] for b in breaches]
    assert targets.count("next_update") == 1 and case.next_update_breached
    assert len([m for m in smtp.messages if "next update" in str(m["Subject"])]) >= 1
    assert smtp.store.duplicates() == {}
    await eventually(
        lambda: desk.get(f"/helpdesk/agent/cases/{number}", headers=agent),
        what="the case still answers after the breach",
    )
