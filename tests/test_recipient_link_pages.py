"""The signed links in a recipient's email: a browser gets the page in the recipient's
language, every other client the JSON, at the same address; a tampered link is refused, and
an appointment link that cancelled or moved the appointment is spent."""

from __future__ import annotations

from activities.journey import LINK_APPOINTMENT
from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from api.security import sign_link, token_digest
from records.db import transaction
from records.links import UsedLink
from records.scheduling import Appointment, Slot
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


def page_form(settings, lang: str = "es", **fields: object) -> dict:
    """A form post as the page sends it: its CSRF token and nonce cookie, in the given language."""
    nonce = "link-page-test-nonce"
    return {
        "data": {CSRF_FIELD: csrf_token(settings.secret_key, nonce, None), **fields},
        "headers": {"Cookie": f"{CSRF_COOKIE}={nonce}; cvms_lang={lang}"},
    }


async def booked_link(api, sessions, settings, *, language: str = "es") -> tuple[dict, str]:
    recipient = await new_recipient(sessions, language=language)
    slot = await publish_slot(api, await login(api, "manager"), start_in=3600, length=600)
    booked = await book(api, await login(api, "scheduler"), recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    token = sign_link(
        settings.secret_key, LINK_APPOINTMENT, {"a": appointment["id"], "j": appointment["journey_id"]}
    )
    return appointment, token


async def test_a_cancel_link_works_once_and_its_page_then_says_it_was_used(api, sessions, settings):
    appointment, token = await booked_link(api, sessions, settings)
    other = await publish_slot(api, await login(api, "manager"), start_in=7200, length=600)

    cancelled = await api.post(f"/r/appointments/{token}/cancel", **page_form(settings))
    assert cancelled.status_code == 303, cancelled.text
    assert cancelled.headers["location"].endswith("?notice=appointment_cancelled")

    page = await api.get(f"/r/appointments/{token}", headers={**BROWSER, "Cookie": "cvms_lang=es"})
    assert page.status_code == 200
    assert "Este enlace ya se usó para cancelar esta cita." in page.text
    assert "Cancelar mi cita" not in page.text and "Cancelada" in page.text

    # A second use, from the page (a double click, a reload) or as JSON, is a 409 that changes nothing.
    again = await api.post(f"/r/appointments/{token}/cancel", **page_form(settings))
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/html")
    assert "Este enlace ya se usó para cancelar esta cita." in again.text
    english = await api.post(
        f"/r/appointments/{token}/reschedule", **page_form(settings, lang="en", slot_id=other["id"])
    )
    assert english.status_code == 409
    assert "This link has already been used to cancel this appointment." in english.text
    as_json = await api.post(f"/r/appointments/{token}/reschedule", json={"slot_id": other["id"]})
    assert as_json.status_code == 409 and as_json.json()["code"] == "link_used"
    assert (await api.get(f"/r/appointments/{token}")).json()["link_used"] is True

    async with transaction(sessions) as db:
        assert (await db.get(Appointment, appointment["id"])).status == "cancelled"
        assert (await db.get(Slot, other["id"])).booked == 0
        use = await db.get(UsedLink, token_digest(token))
        assert use.purpose == "appointment:cancel"
        assert use.subject == f"recipient:{appointment['recipient_id']}"


async def test_a_reschedule_link_moves_once_and_a_refused_move_does_not_spend_it(api, sessions, settings):
    appointment, token = await booked_link(api, sessions, settings, language="en")
    manager = await login(api, "manager")
    full = await publish_slot(api, manager, start_in=5400, length=600, capacity=1)
    taker = await new_recipient(sessions)
    assert (await book(api, await login(api, "scheduler"), taker.id, full["id"])).status_code == 201
    later = await publish_slot(api, manager, start_in=7200, length=600)
    last = await publish_slot(api, manager, start_in=9000, length=600)

    refused = await api.post(f"/r/appointments/{token}/reschedule", json={"slot_id": full["id"]})
    assert refused.status_code == 409 and refused.json()["code"] != "link_used"
    assert (await api.get(f"/r/appointments/{token}")).json()["link_used"] is False

    moved = await api.post(f"/r/appointments/{token}/reschedule", json={"slot_id": later["id"]})
    assert moved.status_code == 200, moved.text
    seen = (await api.get(f"/r/appointments/{token}")).json()
    assert seen["slot_id"] == later["id"] and seen["link_used"] is True

    again = await api.post(f"/r/appointments/{token}/reschedule", json={"slot_id": last["id"]})
    assert again.status_code == 409 and again.json()["code"] == "link_used"
    cancel = await api.post(f"/r/appointments/{token}/cancel", json={})
    assert cancel.status_code == 409 and cancel.json()["code"] == "link_used"
    page = await api.post(f"/r/appointments/{token}/cancel", **page_form(settings, lang="en"))
    assert page.status_code == 409
    assert "This link has already been used to move this appointment." in page.text
    assert "Move my appointment" not in page.text and "Cancel my appointment" not in page.text

    async with transaction(sessions) as db:
        record = await db.get(Appointment, appointment["id"])
        assert record.status == "booked" and record.slot_id == later["id"]
        assert (await db.get(Slot, last["id"])).booked == 0
