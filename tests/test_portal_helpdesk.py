"""The help desk in the browser, against the real stack: a provider signs up for a help-desk
account from the emailed set-password link, opens a case through the intake form; an agent
works it from the queue (an internal and a public note) and resolves it; the requester's
page then shows the public notes and the resolution, never the internal note."""

from __future__ import annotations

import uuid

from tests.browser_fixtures import screenshot
from tests.journeys import mail, text_of

NEW_PASSWORD = "my-own-help-desk-password"


async def test_requester_opens_a_case_and_an_agent_resolves_it_with_public_notes_only(
    browser, live_server, smtp
):
    email = f"clinic.{uuid.uuid4().hex[:8]}@example.org"
    subject = f"Cannot print labels {uuid.uuid4().hex[:4]}"
    requester_context = await browser.new_context(base_url=live_server, locale="en-US")
    requester_context.set_default_timeout(20_000)
    requester = await requester_context.new_page()

    await requester.goto("/helpdesk/register")
    await requester.locator("#f-first_name").fill("Carla")
    await requester.locator("#f-last_name").fill("Clinic")
    await requester.locator("#f-email").fill(email)
    await requester.locator("#f-registration_code").fill("WAKE-4821")
    await requester.get_by_role("button", name="Sign up").click()
    await requester.get_by_text("Check your email: we sent you a link to choose your password.").wait_for()

    account = await mail(smtp, email, "")
    link = text_of(account).split("Choose your password: ", 1)[1].split()[0]
    await requester.goto(link.replace("http://cvms.test", ""))
    await requester.get_by_role("heading", name="Choose your password").wait_for()
    await requester.locator("#f-password").fill(NEW_PASSWORD)
    await requester.get_by_role("button", name="Set password").click()
    await requester.get_by_text("Your password is set. Log in with it now.").wait_for()
    await requester.locator("#f-email").fill(email)
    await requester.locator("#f-password").fill(NEW_PASSWORD)
    await requester.get_by_role("button", name="Log in").click()
    await requester.get_by_role("link", name="Open a case").first.click()
    await requester.locator("#f-subject").fill(subject)
    await requester.locator("#f-description").fill("The label printer at the front desk prints blank labels.")
    await screenshot(requester, "helpdesk-intake")
    await requester.get_by_role("button", name="Open the case").click()
    await requester.get_by_text("Your case is open.").wait_for()
    number = requester.url.split("/helpdesk/cases/")[1].split("?")[0]

    agent_context = await browser.new_context(base_url=live_server, locale="en-US")
    agent_context.set_default_timeout(20_000)
    agent = await agent_context.new_page()
    await agent.goto("/helpdesk/agent/queue")
    await agent.wait_for_url("**/portal/login?next=/helpdesk/agent/queue")
    await agent.locator("#f-login_name").fill("agent")
    await agent.locator("#f-password").fill("cvms-demo-2026")
    await agent.get_by_role("button", name="Log in").click()
    await agent.get_by_role("heading", name="My teams' queue").wait_for()
    # The queue puts the most urgent first; a new case with its whole SLA ahead comes last, so
    # after the rest of the suite it may be on a later page of the new cases.
    row = agent.get_by_role("row").filter(has_text=subject)
    for page_number in range(1, 20):
        await agent.goto(f"/helpdesk/agent/queue?state=new&page={page_number}")
        if await row.count():
            break
    await row.locator(".badge").first.wait_for()
    await screenshot(agent, "helpdesk-queue")
    await row.get_by_role("link", name=f"#{number}").click()

    await agent.get_by_role("button", name="Assign to me").click()
    await agent.get_by_text("The case is assigned.").wait_for()
    # One reply box: internal by default, public when chosen, resolving when "then" says so.
    await agent.locator("#f-note").fill("Internal: printer driver 4.2 is known to be broken.")
    await agent.get_by_role("button", name="Send").click()
    await agent.get_by_text("Your reply is saved.").wait_for()
    await agent.locator("#f-note").fill("We are sending you a new driver today.")
    await agent.locator("#vis-public").check()
    await agent.get_by_role("button", name="Send").click()
    await agent.get_by_text("Your reply is saved.").wait_for()
    await agent.locator("#f-note").fill("Installed driver 4.3; labels print again.")
    await agent.locator("#vis-public").check()
    await agent.locator("#f-then").select_option("resolved")
    await agent.get_by_role("button", name="Send").click()
    await agent.get_by_text("Your reply is saved.").wait_for()
    await agent.locator("dd", has_text="Resolved").wait_for()
    await agent.get_by_text("Internal: never shown to the requester").wait_for()
    await screenshot(agent, "helpdesk-agent-case")

    await requester.goto(f"/helpdesk/cases/{number}")
    await requester.get_by_text("We are sending you a new driver today.").wait_for()
    await requester.get_by_text("Installed driver 4.3; labels print again.").wait_for()
    assert await requester.get_by_text("printer driver 4.2 is known to be broken").count() == 0
    await requester.get_by_role("button", name="Reopen the case").wait_for()
    await screenshot(requester, "helpdesk-my-case-resolved")
    await requester_context.close()
    await agent_context.close()
