"""The signed links in a recipient's email: a browser gets the page in the recipient's
language, every other client the JSON, at the same address; a tampered link is refused, and
an appointment link that cancelled or moved the appointment is spent."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import select

from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from domain.journey_messages import LINK_APPOINTMENT, LINK_BOOK
from domain.scheduling import ACTIVE_ENTRY
from domain.security import sign_link
from records.db import transaction
from records.links import UsedLink
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry
from services.recipient_links import link_id
from tests.conftest import login
from tests.journeys import book, location_id, new_product, new_recipient, publish_slot, unique

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

    asked = await api.post(f"/r/appointments/{token}/cancel", **page_form(settings))
    assert asked.status_code == 200 and "¿Cancelar mi cita?" in asked.text  # asked once, nothing changed
    cancelled = await api.post(f"/r/appointments/{token}/cancel", **page_form(settings, confirmed="yes"))
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
        use = await db.get(UsedLink, link_id(settings, LINK_APPOINTMENT, token))
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


async def _full_booking_link(api, sessions, settings, *, language: str = "es") -> tuple[int, str, str]:
    """A booking link for a series of a product of its own whose only slot is full: no time is free."""
    product = await new_product(sessions)
    recipient = await new_recipient(sessions, language=language)
    slot = await publish_slot(api, await login(api, "manager"), start_in=3600, capacity=1, product=product)
    booked = await book(api, await login(api, "scheduler"), recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    token = sign_link(
        settings.secret_key, LINK_BOOK, {"j": booked.json()["journey_id"], "n": 1, "t": unique()}
    )
    return recipient.id, product, token


async def _active_entries(sessions, recipient_id: int) -> list[WaitlistEntry]:
    async with transaction(sessions) as db:
        rows = await db.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.recipient_id == recipient_id, WaitlistEntry.status.in_(ACTIVE_ENTRY)
            )
        )
        return list(rows.scalars())


async def test_a_booking_link_without_a_free_time_joins_the_waitlist_once_with_errors_beside_the_fields(
    api, sessions, settings
):
    recipient_id, product, token = await _full_booking_link(api, sessions, settings)
    wake = await location_id(sessions, "WAKE-01")
    page = await api.get(f"/r/book/{token}", headers={**BROWSER, "Cookie": "cvms_lang=es"})
    assert page.status_code == 200, page.text
    assert "Ahora no hay horarios disponibles para esta dosis." in page.text
    assert "Unirme a la lista de espera" in page.text
    assert f'<option value="{wake}" selected>' in page.text  # the place of the last appointment

    today = date.today()
    backwards = await api.post(
        f"/r/book/{token}/waitlist",
        **page_form(
            settings,
            location_id=wake,
            earliest_date=(today + timedelta(days=5)).isoformat(),
            latest_date=(today + timedelta(days=1)).isoformat(),
        ),
    )
    assert backwards.status_code == 422 and backwards.headers["content-type"].startswith("text/html")
    assert 'id="f-latest_date"' in backwards.text and 'aria-describedby="e-latest_date"' in backwards.text
    assert "El último día no puede ser anterior al primero." in backwards.text
    assert f'value="{(today + timedelta(days=5)).isoformat()}"' in backwards.text  # what was posted stays

    nowhere = await api.post(
        f"/r/book/{token}/waitlist",
        **page_form(settings, location_id="", earliest_date=today.isoformat(), latest_date="not a day"),
    )
    assert nowhere.status_code == 422
    assert 'id="e-location_id"' in nowhere.text and "Elija uno de los lugares ofrecidos." in nowhere.text
    assert 'id="e-latest_date"' in nowhere.text and "Escriba una fecha." in nowhere.text
    over = await api.post(
        f"/r/book/{token}/waitlist",
        **page_form(
            settings,
            location_id=wake,
            earliest_date=(today - timedelta(days=9)).isoformat(),
            latest_date=(today - timedelta(days=2)).isoformat(),
        ),
    )
    assert over.status_code == 422 and 'id="e-latest_date"' in over.text
    assert "estas fechas ya pasaron" in over.text.lower()
    assert await _active_entries(sessions, recipient_id) == []  # a refused form changes nothing

    dates = {"earliest_date": today.isoformat(), "latest_date": (today + timedelta(days=7)).isoformat()}
    joined = await api.post(f"/r/book/{token}/waitlist", **page_form(settings, location_id=wake, **dates))
    assert joined.status_code == 303, joined.text
    assert joined.headers["location"] == f"/r/book/{token}?notice=waitlist_joined"
    shown = await api.get(joined.headers["location"], headers={**BROWSER, "Cookie": "cvms_lang=es"})
    assert "Está en la lista de espera. Cuando se libere un lugar entre sus fechas" in shown.text
    assert "Está en la lista de espera de Wake County Public Health Center, del" in shown.text
    english = await api.get(joined.headers["location"], headers={**BROWSER, "Cookie": "cvms_lang=en"})
    assert "You are on the waitlist. When a seat frees up between your dates" in english.text

    # The same form again (a double click, a reload): said so, and still one entry.
    again = await api.post(f"/r/book/{token}/waitlist", **page_form(settings, location_id=wake, **dates))
    assert again.status_code == 303
    assert again.headers["location"] == f"/r/book/{token}?notice=waitlist_already"
    repeated = await api.get(again.headers["location"], headers={**BROWSER, "Cookie": "cvms_lang=es"})
    assert "Ya estaba en esta lista de espera; no se cambió nada." in repeated.text
    [entry] = await _active_entries(sessions, recipient_id)
    assert (entry.location_id, entry.product_code, entry.added_by) == (wake, product, "recipient-link")
    assert entry.earliest_date == today and entry.latest_date == today + timedelta(days=7)


async def test_two_joins_at_the_same_moment_make_one_waitlist_entry(api, sessions, settings):
    recipient_id, _product, token = await _full_booking_link(api, sessions, settings)
    body = {
        "location_id": await location_id(sessions, "WAKE-01"),
        "earliest_date": date.today().isoformat(),
        "latest_date": (date.today() + timedelta(days=7)).isoformat(),
    }
    answers = await asyncio.gather(*(api.post(f"/r/book/{token}/waitlist", json=body) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"already_waitlisted"}
    assert len(await _active_entries(sessions, recipient_id)) == 1
