"""The signed links in a recipient's email: a browser gets the page in the recipient's
language, every other client the JSON, at the same address; a tampered link is refused."""

from __future__ import annotations

from activities.journey import LINK_APPOINTMENT
from api.security import sign_link
from tests.conftest import login
from tests.journeys import book, new_recipient, publish_slot

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_a_browser_gets_the_appointment_page_in_the_recipients_language_other_clients_json(
    api, sessions, settings
):
    recipient = await new_recipient(sessions, language="es", first_name="Lucía")
    slot = await publish_slot(api, await login(api, "manager"), start_in=3600, length=600)
    booked = await book(api, await login(api, "scheduler"), recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    token = sign_link(
        settings.secret_key, LINK_APPOINTMENT, {"a": appointment["id"], "j": appointment["journey_id"]}
    )

    page = await api.get(f"/r/appointments/{token}", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "es"
    assert "Mi cita" in page.text and "Cancelar mi cita" in page.text and "Lucía" in page.text

    english = await api.get(f"/r/appointments/{token}", headers={**BROWSER, "Cookie": "cvms_lang=en"})
    assert "My appointment" in english.text  # the switch wins over the recipient's preference

    data = await api.get(f"/r/appointments/{token}")
    assert data.headers["content-type"].startswith("application/json")
    assert data.json()["id"] == appointment["id"]

    tampered = await api.get(f"/r/appointments/{token[:-2]}xx", headers=BROWSER)
    assert tampered.status_code == 403 and tampered.headers["content-type"].startswith("text/html")
    assert "Este enlace no es válido." in tampered.text or "this link is not valid" in tampered.text
