"""The satisfaction survey page and the supervisor report in the browser (real stack, axe checks):
a requester answers through the emailed link once, and the second use says so; an agent reads
the report's charts with a table beside each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from domain.helpdesk import SURVEY_PURPOSE
from domain.security import sign_link
from records.db import transaction
from records.helpdesk import Case, Category, Requester, Team
from records.helpdesk_survey import CaseSurvey
from tests.browser_fixtures import assert_accessible, screenshot


async def a_survey(sessions: Any, settings: Any) -> tuple[int, str]:
    """A case of a new requester with a survey asked (as the email activity makes it); its link."""
    async with transaction(sessions) as db:
        team = (await db.execute(select(Team).order_by(Team.id))).scalars().first()
        category = (await db.execute(select(Category).order_by(Category.id))).scalars().first()
        requester = Requester(
            first_name="Sam",
            last_name="Vey",
            email=f"sam.{uuid.uuid4().hex[:8]}@clinic.example",
            password_hash="x",
        )
        db.add(requester)
        await db.flush()
        case = Case(
            requester_id=requester.id,
            team_id=team.id,
            category_id=category.id,
            topic_id=category.topics[0].id,
            state="resolved",
            subject="Survey case",
            description="…",
        )
        db.add(case)
        await db.flush()
        case.number = 800000 + case.id
        survey = CaseSurvey(case_id=case.id)
        db.add(survey)
        await db.flush()
        return case.number, sign_link(settings.secret_key, SURVEY_PURPOSE, {"s": survey.id})


async def test_a_requester_rates_a_case_once_and_the_second_use_is_refused(page, sessions, settings, smtp):
    number, token = await a_survey(sessions, settings)
    await page.goto(f"/helpdesk/survey?token={token}&rating=bad")
    await page.get_by_role("heading", name="Rate your case").wait_for()
    assert await page.get_by_label("No, I was not helped").is_checked()
    await assert_accessible(page)
    await page.get_by_label("Comment (optional)").fill("The first answer did not work.")
    await screenshot(page, "helpdesk-survey")
    await page.get_by_role("button", name="Send my answer").click()
    await page.get_by_role("heading", name="Thank you").wait_for()
    await page.get_by_text(f"Your answer about case #{number} is recorded.").wait_for()

    await page.goto(f"/helpdesk/survey?token={token}&rating=good")
    await page.get_by_role("heading", name="This survey link cannot be used").wait_for()
    await page.get_by_text("This survey has already been answered; thank you.").wait_for()
    await assert_accessible(page)


async def test_an_agent_reads_the_supervisor_report(page):
    await page.goto("/helpdesk/agent/report")
    await page.wait_for_url("**/portal/login?next=/helpdesk/agent/report")
    await page.locator("#f-login_name").fill("agent")
    await page.locator("#f-password").fill("cvms-demo-2026")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("heading", name="Supervisor report").wait_for()
    await page.get_by_role("table", name="Cases that met each clock").first.wait_for()
    await page.get_by_role("table", name="Open cases by age").wait_for()
    assert await page.locator("figure[data-chart=backlog] svg").count() == 1
    await screenshot(page, "helpdesk-report")
    await assert_accessible(page)
    await page.get_by_role("link", name="Download the backlog (CSV)").wait_for()
