"""The agent workspace in a real browser, in English and Spanish, against the real stack: the
agent searches and filters the queue, opens the case, sees that a teammate has it open, fills
the reply box from a macro (without JavaScript: the server fills it), sends the public reply,
reassigns the case to the teammate, and reads it all in the timeline. axe checks each page."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.browser_fixtures import assert_accessible, screenshot
from tests.conftest import eventually, login
from tests.test_helpdesk import make_agent, open_case, register_requester
from worker.seed import DEMO_PASSWORD

TEXT = {
    "en": {
        "queue": "My teams' queue",
        "replied": "Your reply is saved.",
        "assigned": "The case is assigned.",
        "open": "also has this case open.",
        "macro": "Hello {name}, we are looking at case {number}.",
        "timeline": "Timeline",
    },
    "es": {
        "queue": "Cola de mis equipos",
        "replied": "Su respuesta se guardó.",
        "assigned": "El caso está asignado.",
        "open": "también tiene este caso abierto.",
        "macro": "Hola {name}, estamos revisando el caso {number}.",
        "timeline": "Historial",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
async def test_an_agent_searches_filters_replies_and_reassigns_in_the_workspace(
    browser, live_server, smtp, sessions, language
):
    words = TEXT[language]
    subject = f"Fridge alarm {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=live_server) as api:
        _email, requester = await register_requester(api, smtp, language=language)
        number = (await open_case(api, requester, subject=subject))["number"]  # Provider Support
        admin = await login(api, "agent", DEMO_PASSWORD)
        teams = {t["name"]: t["id"] for t in (await api.get("/helpdesk/agent/teams", headers=admin)).json()}
        macro = {
            "team_id": teams["Provider Support"],
            "name": f"Looking at it {uuid.uuid4().hex[:4]}",
            "body_en": TEXT["en"]["macro"]
            .replace("{name}", "{requester_name}")
            .replace("{number}", "{case_number}"),
            "body_es": TEXT["es"]["macro"]
            .replace("{name}", "{requester_name}")
            .replace("{number}", "{case_number}"),
        }
        created = await api.post("/helpdesk/agent/macros", json=macro, headers=admin)
        assert created.status_code == 201, created.text
        mate_login, mate_id = await make_agent(sessions, "Provider Support")
        mate = await login(api, mate_login)
        # The teammate has the case open: the collision notice names them.
        seen = await api.post(f"/helpdesk/agent/cases/{number}/presence", json={}, headers=mate)
        assert seen.status_code == 200, seen.text

    context = await browser.new_context(base_url=live_server, locale="es-ES" if language == "es" else "en-US")
    context.set_default_timeout(20_000)
    agent = await context.new_page()
    await agent.goto("/helpdesk/agent/queue")
    await agent.wait_for_url("**/portal/login?next=/helpdesk/agent/queue")
    await agent.locator("#f-login_name").fill("agent")
    await agent.locator("#f-password").fill(DEMO_PASSWORD)
    await agent.locator("main form button[type=submit]").click()
    await agent.wait_for_url("**/helpdesk/agent/queue")
    await agent.goto(f"/lang/{language}?next=/helpdesk/agent/queue")
    await agent.get_by_role("heading", name=words["queue"]).wait_for()

    # Search by a word of the subject, only unassigned cases.
    await agent.locator("#f-q").fill(subject.split()[-1])
    await agent.locator("#f-assignee").select_option("none")
    await agent.locator("form[role=search] button[type=submit]").click()
    row = agent.get_by_role("row").filter(has_text=subject)
    await row.wait_for()
    assert await agent.locator("tbody tr").count() == 1
    await assert_accessible(agent)
    await screenshot(agent, f"helpdesk-workspace-queue-{language}")

    await row.get_by_role("link", name=f"#{number}").click()
    await agent.locator(".collision").filter(has_text=words["open"]).wait_for()
    # Typing in the reply box tells the other agents (the page's script reports it).
    await agent.locator("#f-note").fill("Draft")

    async def mate_sees_replying() -> bool:
        async with httpx.AsyncClient(base_url=live_server) as api:
            seen = await api.post(f"/helpdesk/agent/cases/{number}/presence", json={}, headers=mate)
            return {"agent": "Alex Agent", "replying": True} in seen.json()

    await eventually(mate_sees_replying, timeout=20, what="the teammate to see the agent replying")

    # The macro fills the reply box on the server, in the requester's language.
    await agent.locator("#f-macro").select_option(label=macro["name"])
    await agent.locator("form:has(#f-macro) button[type=submit]").click()
    filled = words["macro"].format(name="Ana Bell", number=number)
    await agent.wait_for_function("text => document.querySelector('#f-note').value === text", arg=filled)
    assert await agent.locator("#vis-public").is_checked()
    await assert_accessible(agent)
    await agent.locator("form[action$='/reply'] button[type=submit]").click()
    await agent.get_by_text(words["replied"]).wait_for()
    await agent.locator("article.note.public").filter(has_text=filled).wait_for()

    # Reassign to the teammate.
    await agent.locator("#f-assignee").select_option(str(mate_id))
    await agent.locator("form[action$='/reassign'] button[type=submit]").click()
    await agent.get_by_text(words["assigned"]).wait_for()
    await agent.locator("dd").filter(has_text=f"Ty Mate {mate_login}").wait_for()
    timeline = agent.locator("ol.timeline li")
    assert await timeline.count() >= 4  # opened, the note, first response, assigned
    await agent.get_by_role("heading", name=words["timeline"]).wait_for()
    await assert_accessible(agent)
    await screenshot(agent, f"helpdesk-workspace-case-{language}")
    await context.close()


@pytest.mark.parametrize("language", ["en", "es"])
async def test_an_administrator_adds_a_macro_and_sees_teams_agents_and_routing(
    browser, live_server, language
):
    context = await browser.new_context(base_url=live_server, locale="es-ES" if language == "es" else "en-US")
    context.set_default_timeout(20_000)
    admin = await context.new_page()
    await admin.goto("/helpdesk/agent/macros")
    await admin.wait_for_url("**/portal/login?next=/helpdesk/agent/macros")
    await admin.locator("#f-login_name").fill("agent")
    await admin.locator("#f-password").fill(DEMO_PASSWORD)
    await admin.locator("main form button[type=submit]").click()
    await admin.wait_for_url("**/helpdesk/agent/macros")
    await admin.goto(f"/lang/{language}?next=/helpdesk/agent/macros")

    name = f"Thanks {uuid.uuid4().hex[:4]}"
    await admin.locator("#f-name").fill(name)
    await admin.locator("#f-body_en").fill("Thank you, {requester_name}.")
    await admin.locator("#f-body_es").fill("Gracias, {requester_name}.")
    await admin.locator("#f-set_state").select_option("resolved")
    await admin.locator("form[action='/helpdesk/agent/macros'] button[type=submit]").click()
    await admin.get_by_role("row").filter(has_text=name).wait_for()
    await assert_accessible(admin)
    await screenshot(admin, f"helpdesk-macros-{language}")

    await admin.goto("/helpdesk/agent/admin")
    await admin.locator("table").filter(has_text="General Support").first.wait_for()
    await assert_accessible(admin)
    await screenshot(admin, f"helpdesk-admin-{language}")
    await context.close()
