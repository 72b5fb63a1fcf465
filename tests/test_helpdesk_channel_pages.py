"""Attachments and the phone channel in the browser, against the real stack: a requester attaches
files to a new case and to a reply; an agent working in Spanish finds the requester, opens a case
for them by phone with a file, and adds a note with a file; each page passes axe's checks and
each file downloads as it was given."""

from __future__ import annotations

import uuid

from tests.browser_fixtures import assert_accessible, screenshot
from tests.test_helpdesk import register_requester

PASSWORD = "my own password 42"  # what register_requester sets


async def test_attachments_in_the_pages_and_a_phone_case_in_spanish(browser, live_server, api, smtp):
    email, _headers = await register_requester(api, smtp)
    subject = f"Labels print blank {uuid.uuid4().hex[:4]}"

    requester_context = await browser.new_context(base_url=live_server, locale="en-US")
    requester_context.set_default_timeout(20_000)
    requester = await requester_context.new_page()
    await requester.goto("/helpdesk/login")
    await requester.locator("#f-email").fill(email)
    await requester.locator("#f-password").fill(PASSWORD)
    await requester.get_by_role("button", name="Log in").click()
    await requester.get_by_role("link", name="Open a case").first.click()
    await requester.locator("#f-subject").fill(subject)
    await requester.locator("#f-description").fill(
        "Every label comes out blank; the printer log is attached."
    )
    await requester.locator("#f-attachments").set_input_files(
        files=[{"name": "printer-log.txt", "mimeType": "text/plain", "buffer": b"ERR 42 ribbon\n"}]
    )
    await requester.get_by_role("button", name="Open the case").click()
    await requester.get_by_text("Your case is open.").wait_for()
    number = requester.url.split("/helpdesk/cases/")[1].split("?")[0]
    await requester.get_by_role("link", name="printer-log.txt").wait_for()

    photo = b"\x89PNG\r\n\x1a\n" + b"1" * 32
    await requester.locator("#f-body").fill("Here is a photo of a label.")
    await requester.locator("#f-attachments-body").set_input_files(
        files=[{"name": "label.png", "mimeType": "image/png", "buffer": photo}]
    )
    await requester.get_by_role("button", name="Send reply").click()
    await requester.get_by_text("Your reply is added to the case.").wait_for()
    link = requester.get_by_role("link", name="label.png")
    download = await requester_context.request.get(await link.get_attribute("href"))
    assert download.ok and await download.body() == photo
    await assert_accessible(requester)
    await screenshot(requester, "helpdesk-my-case-attachments")

    agent_context = await browser.new_context(base_url=live_server, locale="es-ES")
    agent_context.set_default_timeout(20_000)
    agent = await agent_context.new_page()
    await agent.goto("/helpdesk/agent/phone")
    await agent.wait_for_url("**/portal/login?next=/helpdesk/agent/phone")
    await agent.locator("#f-login_name").fill("agent")
    await agent.locator("#f-password").fill("cvms-demo-2026")
    await agent.get_by_role("button", name="Iniciar sesión").click()
    # The agent's own language (English) wins over the browser's; the switch wins over both.
    await agent.get_by_role("heading", name="Open a case for a caller").wait_for()
    await agent.get_by_role("link", name="Español").click()
    await agent.get_by_role("heading", name="Abrir un caso para quien llama").wait_for()
    await agent.locator("#f-q").fill(email)
    await agent.get_by_role("button", name="Buscar").click()
    await agent.get_by_role("cell", name=email).wait_for()
    await agent.get_by_role("link", name="Esta persona").click()
    assert await agent.locator("#f-caller_email").input_value() == email
    await agent.locator("#f-topic").select_option("vaccine-provider/login-access")
    await agent.locator("#f-subject").fill(f"Locked out {subject}")
    await agent.locator("#f-call_notes").fill("Called at 9:10; locked out after three tries.")
    pdf = b"%PDF-1.4 call notes\n%%EOF\n"
    await agent.locator("#f-attachments").set_input_files(
        files=[{"name": "call.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    await assert_accessible(agent)
    await screenshot(agent, "helpdesk-phone-case-es")
    await agent.get_by_role("button", name="Abrir el caso").click()
    await agent.get_by_text("El caso está abierto; quien llamó recibe su número por correo.").wait_for()
    download = await agent_context.request.get(
        await agent.get_by_role("link", name="call.pdf").get_attribute("href")
    )
    assert download.ok and await download.body() == pdf

    # The requester's web case: the agent sees both of its files and adds a note with another.
    await agent.goto(f"/helpdesk/agent/cases/{number}")
    await agent.get_by_role("link", name="printer-log.txt").wait_for()
    await agent.get_by_role("link", name="label.png").wait_for()
    await agent.locator("#f-note").fill("Driver 4.3 attached.")
    await agent.locator("#f-attachments-note").set_input_files(
        files=[{"name": "driver-notes.txt", "mimeType": "text/plain", "buffer": b"install 4.3\n"}]
    )
    await agent.get_by_role("button", name="Enviar").click()  # the case page's one reply box
    await agent.get_by_role("link", name="driver-notes.txt").wait_for()
    await assert_accessible(agent)
    await requester_context.close()
    await agent_context.close()
