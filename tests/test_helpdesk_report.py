"""The supervisor report on the real stack: known cases (recorded as their workflows would have
recorded them, at chosen instants) read back from the JSON, the CSV downloads and the SVG charts."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from domain.business_hours import BusinessCalendar
from records.db import transaction, utcnow
from records.helpdesk import Case, CaseEventRecord, Category, Requester, Team
from records.helpdesk_survey import CaseSurvey
from services.helpdesk_report import iso_week
from tests.conftest import login
from tests.test_helpdesk import make_agent

TARGETS = "urgent=1h/4h/1h,high=2h/8h/2h,normal=1h/10h/30m,low=8h/48h/8h"
ZONE = ZoneInfo("America/New_York")


@pytest.fixture
async def desk(settings, temporal) -> AsyncIterator[httpx.AsyncClient]:
    """The API alone: the report reads records, so no worker is needed."""
    transport = httpx.ASGITransport(app=create_app(settings, temporal))
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as client:
        yield client


def anchor_instant(now: datetime) -> datetime:
    """Four days ago, moved off the first hours of a week so every case of it shares one week."""
    anchor = now - timedelta(days=4)
    local = anchor.astimezone(ZONE)
    if local.weekday() == 0 and local.hour < 3:
        anchor -= timedelta(hours=4)
    return anchor


async def add_case(
    db: Any,
    team: Team,
    requester: Requester,
    created: datetime,
    state: str,
    log: list[tuple[float, str, str]],
) -> Case:
    """A case and its event log: (seconds after opening, kind, actor); a public note per 'note'."""
    category = (await db.execute(select(Category).order_by(Category.id))).scalars().first()
    topic = category.topics[0]
    case = Case(
        requester_id=requester.id,
        team_id=team.id,
        category_id=category.id,
        topic_id=topic.id,
        state=state,
        priority="normal",
        subject="Report case",
        description="…",
        created_at=created,
        updated_at=created,
    )
    db.add(case)
    await db.flush()
    case.number = 900000 + case.id
    details = {
        "calendar": BusinessCalendar.always_open().to_dict(),
        "sla_targets": TARGETS,
        "team": team.name,
    }
    db.add(
        CaseEventRecord(
            case_id=case.id,
            seq=1,
            at=created,
            kind="created",
            actor="system",
            priority="normal",
            details=details,
        )
    )
    for seq, (after, kind, actor) in enumerate(log, start=2):
        extra = {"visibility": "public", "purpose": "note"} if kind == "note" else {}
        db.add(
            CaseEventRecord(
                case_id=case.id,
                seq=seq,
                at=created + timedelta(seconds=after),
                kind=kind,
                actor=actor,
                details=extra,
            )
        )
    return case


@pytest.fixture
async def report_team(sessions) -> tuple[str, datetime, datetime]:
    """A team of its own with four known cases; returns its name, the anchor and now."""
    name = f"Report Team {uuid.uuid4().hex[:6]}"
    now = utcnow()
    anchor = anchor_instant(now)
    async with transaction(sessions) as db:
        team = Team(name=name, email="report@cvms.example")
        requester = Requester(
            first_name="Rae",
            last_name="Port",
            email=f"rae.{uuid.uuid4().hex[:8]}@clinic.example",
            password_hash="x",
        )
        db.add_all([team, requester])
        await db.flush()
        agent, requester_actor = "agent:1", f"requester:{requester.id}"
        # A: every clock met; rated good.
        a = await add_case(
            db,
            team,
            requester,
            anchor,
            "resolved",
            [
                (1800, "note", agent),
                (1800, "first_response", agent),
                (2000, "note", requester_actor),
                (2500, "note", agent),
                (3000, "note", agent),
                (3000, "resolved", agent),
            ],
        )
        # B: first response 2 h late, the requester's message left 2200 s (target 1800); rated bad.
        b = await add_case(
            db,
            team,
            requester,
            anchor,
            "resolved",
            [
                (7200, "note", agent),
                (7200, "first_response", agent),
                (7300, "note", requester_actor),
                (9500, "note", agent),
                (9500, "resolved", agent),
            ],
        )
        # D: never answered, still open four days on. C: opened ten minutes ago.
        await add_case(db, team, requester, anchor, "new", [])
        await add_case(db, team, requester, now - timedelta(minutes=10), "new", [])
        await db.flush()
        db.add_all(
            [
                CaseSurvey(case_id=a.id, rating="good", rated_at=now),
                CaseSurvey(case_id=b.id, rating="bad", rated_at=now),
            ]
        )
    return name, anchor, now


def svg_marks(page: str, chart: str) -> list[dict[str, str]]:
    """The bars of one chart, each as its accessible description ("Week: …; Percent met: …")."""
    figure = re.search(rf'data-chart="{chart}">(.*?)</figure>', page, re.S)
    assert figure, chart
    labels = re.findall(r'aria-label="([^"]*: [^"]*)"', figure[1])
    marks = []
    for label in labels:
        parts = dict(part.split(": ", 1) for part in html.unescape(label).split("; ") if ": " in part)
        if "; " in label:  # a bar (axes and legends describe themselves in one sentence)
            marks.append(parts)
    return marks


async def test_the_report_reads_back_the_same_numbers_from_json_csv_and_svg(desk, sessions, report_team):
    team, anchor, now = report_team
    week = iso_week(anchor, ZONE)
    same_week = iso_week(now - timedelta(minutes=10), ZONE) == week
    login_name, _agent_id = await make_agent(sessions, team)
    agent = await login(desk, login_name)

    report = await desk.get("/helpdesk/agent/report", params={"weeks": 2}, headers=agent)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["teams"] == [team] and week in body["weeks"]
    [row] = [r for r in body["rows"] if r["week"] == week]
    expected = {
        "cases": 4 if same_week else 3,
        "first_response_met": 1,
        "first_response_missed": 2,
        "first_response_met_percent": 33.3,
        "resolution_met": 2,
        "resolution_missed": 1,
        "resolution_met_percent": 66.7,
        "next_update_met": 1,
        "next_update_missed": 1,
        "next_update_met_percent": 50.0,
        "median_first_response_hours": 1.25,
        "rated_good": 1,
        "rated_bad": 1,
        "good_percent": 50.0,
    }
    assert {k: row[k] for k in expected} == expected
    backlog = {b["age"]: b["cases"] for b in body["backlog"]}
    assert backlog == {"under 1 day": 1, "1-3 days": 0, "3-7 days": 1, "7 days or more": 0}

    weeks_csv = await desk.get("/helpdesk/agent/report/weeks.csv", params={"weeks": 2}, headers=agent)
    assert weeks_csv.status_code == 200 and weeks_csv.headers["content-type"].startswith("text/csv")
    [csv_row] = [r for r in csv.DictReader(io.StringIO(weeks_csv.text)) if r["week"] == week]
    assert {k: csv_row[k] for k in expected} == {k: str(v) for k, v in expected.items()}
    backlog_csv = await desk.get("/helpdesk/agent/report/backlog.csv", headers=agent)
    assert {r["age"]: int(r["cases"]) for r in csv.DictReader(io.StringIO(backlog_csv.text))} == backlog

    page = await desk.get(
        "/helpdesk/agent/report", params={"weeks": 2}, headers={**agent, "Accept": "text/html"}
    )
    assert page.status_code == 200, page.text
    clocks = {
        m["Clock"]: float(m["Percent met"]) for m in svg_marks(page.text, "clocks") if m["Week"] == week
    }
    assert clocks == {"First response": 33.3, "Resolution": 66.7, "Next update": 50.0}
    [median] = [m for m in svg_marks(page.text, "first_response") if m["Week"] == week]
    assert float(median["Median first response (business hours)"]) == 1.25
    [good] = [m for m in svg_marks(page.text, "satisfaction") if m["Week"] == week]
    assert float(good["Percent rated good"]) == 50.0
    ages = {m["Age"]: int(m["Open cases"]) for m in svg_marks(page.text, "backlog")}
    assert ages == {"under 1 day": 1, "3–7 days": 1}  # bars of 0 draw nothing; the table keeps them
    assert 'data-table="clocks"' in page.text and "33.3 % (1/3)" in page.text

    # The same page in Spanish: the charts' titles follow it.
    spanish = await desk.get(
        "/helpdesk/agent/report",
        params={"weeks": 2},
        headers={**agent, "Accept": "text/html", "Accept-Language": "es"},
    )
    assert "Informe de supervisión" in spanish.text
    assert {m.get("Reloj") for m in svg_marks(spanish.text, "clocks") if m.get("Semana") == week} == {
        "Primera respuesta",
        "Resolución",
        "Próxima actualización",
    }


async def test_report_input_is_checked(desk, sessions):
    login_name, _ = await make_agent(sessions, "Provider Support")
    agent = await login(desk, login_name)
    for weeks in ("0", "53", "x"):
        bad = await desk.get("/helpdesk/agent/report", params={"weeks": weeks}, headers=agent)
        assert bad.status_code == 422, bad.text
    anonymous = await desk.get("/helpdesk/agent/report")
    assert anonymous.status_code == 401
