"""Help-desk categories and topics in the reader's language, the help-desk emails' buttons and
tap-to-call phones, on the real stack (API, Temporal dev server, worker, database, SMTP capture)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from notifications.render import render
from tests.conftest import login
from tests.test_helpdesk import html_of, open_case, register_requester, text_of, with_key
from worker.seed import DEMO_PASSWORD

BUTTON_STYLE = "background:#0b4f8a"  # notifications/templates/_button.html
# The <a> of notifications/templates/_button.html: its address and its label.
BUTTON = re.compile(r'<a href="([^"]+)" style="display:inline-block[^"]*background:#0b4f8a[^"]*">([^<]+)</a>')


async def page_text(api: Any, path: str, headers: dict[str, str], lang: str = "es") -> str:
    """A page as a browser in `lang` gets it (the language switch's cookie)."""
    response = await api.get(path, headers={**headers, "Accept": "text/html", "Cookie": f"cvms_lang={lang}"})
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


async def test_a_spanish_requester_and_agent_see_spanish_category_and_topic_names(api, smtp):
    email, requester = await register_requester(api, smtp, language="es")

    intake = await page_text(api, "/helpdesk/cases/new", requester)
    assert "Proveedor de vacunas: Inicio de sesión y acceso" in intake
    assert "Persona vacunada: Registro de vacunación" in intake
    assert "Vaccine Provider" not in intake and "Login and access" not in intake

    case = await open_case(
        api, requester, category="recipient", topic="vaccination-record", contact_phone="919.555.0142"
    )
    number = case["number"]
    assert (case["category"], case["category_es"]) == ("Recipient", "Persona vacunada")

    listed = await page_text(api, "/helpdesk", requester)
    mine = await page_text(api, f"/helpdesk/cases/{number}", requester)
    for text in (listed, mine):
        assert "Persona vacunada: Registro de vacunación" in text
        assert "Recipient: Vaccination record" not in text
    english = await page_text(api, f"/helpdesk/cases/{number}", requester, "en")
    assert "Recipient: Vaccination record" in english
    # Without the switch, an English browser still gets the requester's own language.
    own = await api.get(
        f"/helpdesk/cases/{number}", headers={**requester, "Accept": "text/html", "Accept-Language": "en-US"}
    )
    assert own.status_code == 200 and "Persona vacunada: Registro de vacunación" in html.unescape(own.text)

    # The case-received email goes out in the requester's language, the names with it.
    [received] = await smtp.wait_for(with_key(f"case-{number}:received"))
    assert received["To"] == email
    assert "Tema: Persona vacunada: Registro de vacunación." in text_of(received)
    assert "Persona vacunada: Registro de vacunación" in html.unescape(html_of(received))

    agent = await login(api, "agent", DEMO_PASSWORD)
    worked = await page_text(api, f"/helpdesk/agent/cases/{number}", agent)
    assert "Persona vacunada: Registro de vacunación" in worked
    # The caller's number is formatted and can be tapped to call.
    assert '<a href="tel:+1-919-555-0142">(919) 555-0142</a>' in worked
    queue = await page_text(api, f"/helpdesk/agent/queue?q={number}", agent)
    assert "Persona vacunada: Registro de vacunación" in queue
    phone = await page_text(api, "/helpdesk/agent/phone", agent)
    assert "Proveedor de vacunas: Cambio de sede" in phone


async def test_the_case_received_email_has_a_button_to_the_case_and_keeps_the_address(api, smtp):
    _email, requester = await register_requester(api, smtp)
    number = (await open_case(api, requester))["number"]
    [received] = await smtp.wait_for(with_key(f"case-{number}:received"))
    case_url = f"/helpdesk/cases/{number}"
    page = html.unescape(html_of(received))
    [(address, label)] = BUTTON.findall(page)
    assert address.endswith(case_url) and label == "See your case"
    assert f"{case_url}</a>" in page  # the address itself below the button
    assert case_url in text_of(received) and BUTTON_STYLE not in text_of(received)
    assert "Topic: Vaccine Provider: Login and access." in text_of(received)


HELP_DESK_EMAILS = {
    "case_received": "case_url",
    "case_note": "case_url",
    "case_pending": "case_url",
    "case_resolved": "case_url",
    "case_reopened": "case_url",
    "case_closed": "case_url",
    "case_merged": "into_url",
    "case_survey": "survey_good_url",
    "case_breach": "case_url",
    "helpdesk_account": "set_password_url",
    "helpdesk_account_exists": "login_url",
    "helpdesk_register_hint": "register_url",
    "account_setup": "set_password_url",
}


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("template", sorted(HELP_DESK_EMAILS))
def test_every_help_desk_email_has_a_button_for_its_main_action(template, language):
    context = _email_context()
    address = context[HELP_DESK_EMAILS[template]]
    message = render(template, language, context)
    buttons = BUTTON.findall(html.unescape(message.html))
    assert buttons and buttons[0][0] == address and buttons[0][1].strip()
    assert address in message.text and BUTTON_STYLE not in message.text


def _email_context() -> dict[str, Any]:
    base = "https://cvms.example"
    return {
        "name": "Ana Bell",
        "number": 1001,
        "subject": "Cannot log in",
        "category": "Recipient",
        "topic": "Other",
        "team_name": "General Support",
        "state": "open",
        "linked_number": None,
        "public_notes": [],
        "note": "A note",
        "resolution": "Fixed",
        "reopened_by": "Alex Agent",
        "reopen_days": "7",
        "auto_close_days": "7",
        "into_number": 1002,
        "target": "first_response",
        "target_name": "first response",
        "priority": "normal",
        "due_at": "2026-12-07T05:00:00+00:00",
        "time_zone": "America/New_York",
        "case_url": f"{base}/helpdesk/cases/1001",
        "into_url": f"{base}/helpdesk/cases/1002",
        "survey_good_url": f"{base}/helpdesk/survey?token=t&rating=good",
        "survey_bad_url": f"{base}/helpdesk/survey?token=t&rating=bad",
        "set_password_url": f"{base}/helpdesk/set-password?token=t",
        "login_url": f"{base}/helpdesk/login",
        "register_url": f"{base}/helpdesk/register",
        "location_name": "Wake Clinic",
        "first_name": "Ana",
        "login_name": "ana",
        "email": "ana@clinic.example",
        "help_desk_address": "help@cvms.example",
        "role": "provider",
    }


async def test_an_administrator_names_a_topic_in_spanish_and_the_pages_show_it(api, smtp):
    _email, requester = await register_requester(api, smtp, language="es")
    agent = await login(api, "agent", DEMO_PASSWORD)
    names = {"category": "other", "topic": "other", "name": "Other", "name_es": "Otra consulta"}
    try:
        renamed = await api.put("/helpdesk/agent/names", json=names, headers=agent)
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name_es"] == "Otra consulta"
        intake = await page_text(api, "/helpdesk/cases/new", requester)
        assert "Otro: Otra consulta" in intake
        admin = await page_text(api, "/helpdesk/agent/admin", agent)
        assert "<td>Other</td><td>Otra consulta</td>" in admin

        blank = await api.put("/helpdesk/agent/names", json={**names, "name": " "}, headers=agent)
        assert blank.status_code == 422 and blank.json()["code"] in ("bad_name", "invalid_input")
        unknown = await api.put("/helpdesk/agent/names", json={**names, "topic": "nope"}, headers=agent)
        assert unknown.status_code == 422 and unknown.json()["code"] == "bad_topic"
        assert "Otro: Otra consulta" in await page_text(api, "/helpdesk/cases/new", requester)
    finally:
        restored = await api.put("/helpdesk/agent/names", json={**names, "name_es": "Otro"}, headers=agent)
        assert restored.status_code == 200, restored.text
