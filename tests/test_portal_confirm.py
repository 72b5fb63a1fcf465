"""Changes that cannot be taken back ask once (issue 17): cancelling an appointment, closing a
slot, removing a user and removing a dose in error. The button's post answers with a confirm
step page and changes nothing; cancel and dose removal need the reason, which is recorded."""

from __future__ import annotations

import re

from sqlalchemy import select

from records.db import transaction
from records.journeys import Dose
from records.scheduling import Appointment, Slot
from records.users import Membership, User
from tests.browser_fixtures import assert_accessible
from tests.conftest import login
from tests.journeys import add_lot, book, document, new_recipient, portal_form, publish_slot, unique
from tests.test_portal_pages import log_in

HTML = {"Accept": "text/html"}


async def row(sessions, model, key):
    async with transaction(sessions) as db:
        return await db.get(model, key)


def asks(answer, heading: str, action: str, *, reason: bool) -> None:
    assert answer.status_code == 200, answer.text[:300]
    assert f"<h1>{heading}</h1>" in answer.text
    assert f'action="{action}"' in answer.text and 'name="confirmed" value="yes"' in answer.text
    assert ('name="reason"' in answer.text) is reason


async def test_cancelling_an_appointment_asks_once_with_the_reason(api, sessions, settings):
    manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600, length=600)
    appointment_id = (await book(api, scheduler, recipient.id, slot["id"])).json()["id"]
    action = f"/portal/appointments/{appointment_id}/cancel"

    asked = await api.post(action, **portal_form(settings, scheduler))
    asks(asked, "Cancel this appointment?", action, reason=True)
    assert (await row(sessions, Appointment, appointment_id)).status == "booked"

    no_reason = await api.post(action, **portal_form(settings, scheduler, confirmed="yes", reason="  "))
    assert no_reason.status_code == 422 and "Give the reason." in no_reason.text
    assert (await row(sessions, Appointment, appointment_id)).status == "booked"

    done = await api.post(action, **portal_form(settings, scheduler, confirmed="yes", reason="moved away"))
    assert done.status_code == 303 and done.headers["location"].endswith("notice=appointment_cancelled")
    cancelled = await row(sessions, Appointment, appointment_id)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "moved away")


async def test_removing_a_dose_in_error_asks_once_with_the_reason(api, sessions, settings):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    dose_id = (
        await document(api, provider, recipient.id, product="pfizer", lot=await add_lot(sessions, "pfizer"))
    ).json()["id"]
    action = f"/portal/doses/{dose_id}/remove"
    asked = await api.post(action, **portal_form(settings, provider, reason="typo"))
    asks(asked, "Remove this dose as entered in error?", action, reason=True)
    assert 'value="typo"' in asked.text  # what was typed is kept
    assert not (await row(sessions, Dose, dose_id)).removed

    no_reason = await api.post(action, **portal_form(settings, provider, confirmed="yes"))
    assert no_reason.status_code == 422 and not (await row(sessions, Dose, dose_id)).removed

    done = await api.post(action, **portal_form(settings, provider, confirmed="yes", reason="wrong person"))
    assert done.status_code == 303, done.text
    removed = await row(sessions, Dose, dose_id)
    assert removed.removed and removed.removed_reason == "wrong person"


async def test_closing_a_slot_asks_once(api, sessions, settings):
    manager = await login(api, "manager")
    slot = await publish_slot(api, manager, start_in=7200, length=600)
    action = f"/portal/slots/{slot['id']}/close"
    asks(
        await api.post(action, **portal_form(settings, manager)),
        "Close this time slot?",
        action,
        reason=False,
    )
    assert (await row(sessions, Slot, slot["id"])).is_open
    done = await api.post(action, **portal_form(settings, manager, confirmed="yes"))
    assert done.status_code == 303 and not (await row(sessions, Slot, slot["id"])).is_open


async def test_removing_a_user_asks_once(api, sessions, settings):
    manager = await login(api, "manager")
    login_name = unique("temp.")
    added = await api.post(
        "/location/users",
        json={
            "first_name": "Tem",
            "last_name": "Porary",
            "email": f"{login_name}@example.org",
            "login_name": login_name,
            "role": "provider",
        },
        headers=manager,
    )
    assert added.status_code == 201, added.text
    user_id = added.json()["user_id"]
    action = f"/portal/users/{user_id}/remove"

    async def memberships() -> int:
        async with transaction(sessions) as db:
            return len((await db.execute(select(Membership).where(Membership.user_id == user_id))).all())

    asked = await api.post(action, **portal_form(settings, manager))
    asks(asked, "Remove this user from the location?", action, reason=False)
    assert f"Tem Porary ({login_name})" in asked.text and await memberships() == 1
    done = await api.post(action, **portal_form(settings, manager, confirmed="yes"))
    assert done.status_code in (200, 303), done.text[:300]
    assert await memberships() == 0 and await row(sessions, User, user_id) is not None


async def test_cancel_and_remove_in_the_browser_ask_once_and_pass_axe(page, api, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600, length=600)
    appointment_id = (await book(api, scheduler, recipient.id, slot["id"])).json()["id"]

    await log_in(page, "scheduler")
    await page.goto(f"/portal/recipients/{recipient.id}")
    await page.get_by_role("button", name="Cancel appointment").click()
    await page.get_by_role("heading", name="Cancel this appointment?").wait_for()
    await assert_accessible(page)
    await page.get_by_role("button", name="Cancel the appointment").click()  # no reason: the browser asks
    assert await page.locator("#f-reason:invalid").count() == 1
    assert (await row(sessions, Appointment, appointment_id)).status == "booked"
    await page.get_by_label("Reason for cancelling").fill("feeling unwell")
    await page.get_by_role("button", name="Cancel the appointment").click()
    await page.get_by_text("The appointment is cancelled.").wait_for()
    assert (await row(sessions, Appointment, appointment_id)).cancel_reason == "feeling unwell"

    await page.goto(f"/portal/recipients/{recipient.id}")
    await page.get_by_role("button", name="Cancel appointment").wait_for(state="detached")
    assert re.search(r"/portal/recipients/\d+$", page.url)
