"""Booking and documenting through the portal's pages in a real browser, against the real stack:
the screening questions a product has are asked (in English or Spanish) and a refusing answer
is shown beside the form with nothing changed; a chosen seat is held (shown until when), kept
from everyone else, given back or taken by the booking; the location's waitlist is filled from
the recipient page, listed (read-only sees no change buttons) and an entry removed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.pages import i18n
from records.db import transaction
from records.holds import SeatHold
from records.journeys import Dose
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry
from tests.browser_fixtures import screenshot, serve
from tests.conftest import eventually, login
from tests.journeys import add_lot, link_token, mail, new_product, new_recipient, publish_slot, unique
from tests.test_portal_pages import log_in

WAKE_ZONE = "America/New_York"
ALLERGY = "Have you had a severe allergic reaction to a vaccine?"
ALLERGY_ES = "¿Ha tenido una reacción alérgica grave a una vacuna?"


async def _question(api: Any, admin: dict[str, str], product: str) -> str:
    code = unique("allergy-")
    added = await api.post(
        "/eligibility/questions",
        json={
            "code": code,
            "prompt": ALLERGY,
            "prompt_es": ALLERGY_ES,
            "product_code": product,
            "effect": "refuse",
            "reason": "a severe allergic reaction to a component",
            "reason_es": "una reacción alérgica grave a un componente",
        },
        headers=admin,
    )
    assert added.status_code == 201, added.text
    return code


async def _count(sessions: Any, model: Any, *where: Any) -> int:
    async with transaction(sessions) as db:
        return (await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def _slot(sessions: Any, slot_id: int) -> Slot:
    async with transaction(sessions) as db:
        slot = await db.get(Slot, slot_id)
        assert slot is not None
        return slot


async def _hold(sessions: Any, slot_id: int, *, status: str | None = None) -> SeatHold | None:
    async with transaction(sessions) as db:
        query = select(SeatHold).where(SeatHold.slot_id == slot_id)
        if status:
            query = query.where(SeatHold.status == status)
        return (await db.execute(query.order_by(SeatHold.id.desc()).limit(1))).scalar_one_or_none()


async def _context(browser: Any, base_url: str, login_name: str) -> tuple[Any, Any]:
    context = await browser.new_context(base_url=base_url, locale="en-US")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    await log_in(page, login_name)
    return context, page


async def test_booking_and_documenting_ask_the_screening_question_and_refuse_beside_the_form(
    browser, live_server, api, smtp, sessions
):
    manager = await login(api, "manager")
    product = await new_product(sessions)
    lot = await add_lot(sessions, product)
    await _question(api, await login(api, "agent"), product)  # the programme administrator
    slot = await publish_slot(api, manager, start_in=3600, capacity=3, product=product)
    booked_person = await new_recipient(sessions, language="es")
    walk_in = await new_recipient(sessions)

    # A scheduler books: the seat is held, the product's question is asked, "yes" refuses.
    staff, scheduler = await _context(browser, live_server, "scheduler")
    await scheduler.goto(f"/portal/recipients/{booked_person.id}")
    await scheduler.locator(f"#book-slot-{slot['id']}").check()
    await scheduler.get_by_role("button", name="Hold this time").click()
    await scheduler.get_by_text("The seat is held until").wait_for()
    question = scheduler.get_by_role("group", name=ALLERGY)
    await question.get_by_label("Yes").check()
    await scheduler.get_by_role("button", name="Book", exact=True).click()
    refusal = scheduler.get_by_role("alert").filter(has_text="Not eligible:")
    await refusal.get_by_text("a severe allergic reaction to a component").wait_for()
    await screenshot(scheduler, "portal-booking-refused")
    assert await _count(sessions, Appointment, Appointment.recipient_id == booked_person.id) == 0
    held = await _slot(sessions, slot["id"])
    assert (held.booked, held.held) == (0, 1)  # nothing booked; the seat is still held
    # The page answers in Spanish too, with the question's Spanish words.
    await scheduler.get_by_role("link", name="Español").click()
    await scheduler.get_by_role("group", name=ALLERGY_ES).wait_for()
    await scheduler.get_by_role("link", name="English").click()
    await question.get_by_label("No").check()
    await scheduler.get_by_role("button", name="Book", exact=True).click()
    await scheduler.get_by_text("The appointment is booked.").wait_for()
    assert await _count(sessions, Appointment, Appointment.recipient_id == booked_person.id) == 1
    taken = await _slot(sessions, slot["id"])
    assert (taken.booked, taken.held) == (1, 0)

    # The recipient's own booking link asks the same question in their language.
    [appointment] = (await api.get(f"/appointments?recipient_id={booked_person.id}", headers=manager)).json()
    cancelled = await api.post(
        f"/appointments/{appointment['id']}/cancel", json={"reason": "another day"}, headers=manager
    )
    assert cancelled.status_code == 200, cancelled.text
    token = link_token(await mail(smtp, booked_person.email, "está cancelada"), "book")
    own = await browser.new_context(base_url=live_server, locale="en-US")
    own.set_default_timeout(20_000)
    recipient = await own.new_page()
    await recipient.goto(f"/r/book/{token}")
    await recipient.locator(f"#slot-{slot['id']}").check()
    await recipient.get_by_role("button", name="Elegir este horario").click()
    await recipient.get_by_text("Su lugar está reservado hasta las").wait_for()
    asked = recipient.get_by_role("group", name=ALLERGY_ES)
    await asked.get_by_label("Sí").check()
    await recipient.get_by_role("button", name="Reservar esta hora").click()
    await (
        recipient.get_by_role("alert")
        .filter(has_text="No cumple los requisitos:")
        .get_by_text("una reacción alérgica grave a un componente")
        .wait_for()
    )
    await screenshot(recipient, "recipient-booking-refused-es")
    await asked.get_by_label("No").check()
    await recipient.get_by_role("button", name="Reservar esta hora").click()
    await recipient.get_by_text("Su cita está reservada").wait_for()
    await own.close()

    # A provider documents a walk-in dose from the product's lot: the same question.
    await staff.close()
    staff, provider = await _context(browser, live_server, "provider")
    await provider.goto(f"/portal/recipients/{walk_in.id}")
    lot_option = await provider.locator("#f-lot_id option", has_text=lot).get_attribute("value")
    await provider.locator("#f-lot_id").select_option(lot_option)
    dose_question = provider.get_by_role("group", name=ALLERGY)
    await dose_question.get_by_label("Yes").check()
    await provider.get_by_role("button", name="Document dose").click()
    await (
        provider.get_by_role("alert")
        .filter(has_text="Not eligible:")
        .get_by_text("a severe allergic reaction to a component")
        .wait_for()
    )
    await screenshot(provider, "portal-dose-refused")
    assert await _count(sessions, Dose, Dose.recipient_id == walk_in.id) == 0
    assert await provider.locator("#f-lot_id").input_value() == lot_option  # the form keeps what was chosen
    await dose_question.get_by_label("No").check()
    await provider.get_by_role("button", name="Document dose").click()
    await provider.get_by_text("The dose is documented.").wait_for()
    assert await _count(sessions, Dose, Dose.recipient_id == walk_in.id) == 1
    await staff.close()


@pytest.fixture
async def long_holds(settings: Any, temporal: Any, sessions: Any, worker: Any) -> AsyncIterator[str]:
    """The app with two-minute seat holds (the session's run out in seconds), served over HTTP."""
    app = create_app(settings.model_copy(update={"seat_hold_seconds": 120}), temporal)
    async with serve(app) as url:
        yield url


async def test_a_held_seat_shows_until_when_keeps_the_last_seat_and_is_taken_by_the_booking(
    browser, long_holds, api, sessions
):
    manager = await login(api, "manager")
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    first, second = await new_recipient(sessions), await new_recipient(sessions)
    one, scheduler = await _context(browser, long_holds, "scheduler")
    two, colleague = await _context(browser, long_holds, "manager")

    # Both see the last seat free; the first to choose it holds it.
    await colleague.goto(f"/portal/recipients/{second.id}")
    await scheduler.goto(f"/portal/recipients/{first.id}")
    await scheduler.locator(f"#book-slot-{slot['id']}").check()
    await scheduler.get_by_role("button", name="Hold this time").click()
    hold = await _hold(sessions, slot["id"], status="held")
    assert hold is not None
    until = i18n.local_time(hold.expires_at, WAKE_ZONE)
    await scheduler.locator("#held-until").get_by_text(f"The seat is held until {until}.").wait_for()
    await screenshot(scheduler, "portal-seat-held")
    await colleague.locator(f"#book-slot-{slot['id']}").check()
    await colleague.get_by_role("button", name="Hold this time").click()
    await (
        colleague.locator("#book-heading + p.error")
        .get_by_text("This slot is full; choose another.")
        .wait_for()
    )
    assert (await _slot(sessions, slot["id"])).held == 1
    await colleague.goto(f"/portal/recipients/{second.id}")
    assert await colleague.locator(f"#book-slot-{slot['id']}").count() == 0

    # Given back, the seat is free again for the colleague, whose booking takes their hold.
    await scheduler.get_by_role("button", name="Give the seat back").click()
    await scheduler.get_by_text("The held seat is given back.").wait_for()

    async def released() -> bool:
        return (await _slot(sessions, slot["id"])).held == 0

    await eventually(released, timeout=30, what="the given-back seat to be released")
    await colleague.goto(f"/portal/recipients/{second.id}")
    await colleague.locator(f"#book-slot-{slot['id']}").check()
    await colleague.get_by_role("button", name="Hold this time").click()
    await colleague.get_by_text("The seat is held until").wait_for()
    theirs = await _hold(sessions, slot["id"], status="held")
    assert theirs is not None and theirs.id != hold.id
    await colleague.get_by_role("button", name="Book", exact=True).click()
    await colleague.get_by_text("The appointment is booked.").wait_for()
    assert (await _hold(sessions, slot["id"], status="booked")).id == theirs.id
    taken = await _slot(sessions, slot["id"])
    assert (taken.booked, taken.held) == (1, 0)
    await one.close()
    await two.close()


async def test_a_held_seat_that_runs_out_is_released(browser, live_server, api, sessions):
    manager = await login(api, "manager")
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    recipient = await new_recipient(sessions)
    context, scheduler = await _context(browser, live_server, "scheduler")
    await scheduler.goto(f"/portal/recipients/{recipient.id}")
    await scheduler.locator(f"#book-slot-{slot['id']}").check()
    await scheduler.get_by_role("button", name="Hold this time").click()
    await scheduler.get_by_text("The seat is held until").wait_for()

    async def run_out() -> bool:
        return (await _slot(sessions, slot["id"])).held == 0

    await eventually(run_out, timeout=30, what="the hold's timer to give the seat back")
    await scheduler.reload()
    await scheduler.get_by_text("The seat is no longer held.").wait_for()
    await context.close()


async def test_staff_add_a_recipient_to_the_waitlist_and_see_and_remove_the_entry(
    browser, live_server, api, sessions
):
    product = await new_product(sessions)  # its own: no seat of another test is offered to the entry
    recipient = await new_recipient(sessions, first_name="Wendy")
    context, scheduler = await _context(browser, live_server, "scheduler")
    await scheduler.goto(f"/portal/recipients/{recipient.id}")
    await scheduler.get_by_text("Not on this location's waitlist.").wait_for()
    await scheduler.locator("#f-product_code").select_option(product)
    earliest = await scheduler.locator("#f-earliest_date").input_value()
    await scheduler.locator("#f-latest_date").fill("2020-01-01")
    await scheduler.get_by_role("button", name="Add to the waitlist").click()
    dates_error = scheduler.locator("#e-latest_date")
    await dates_error.get_by_text("The last day must not be before the first.").wait_for()
    assert await _count(sessions, WaitlistEntry, WaitlistEntry.recipient_id == recipient.id) == 0

    await scheduler.locator("#f-latest_date").fill(earliest)
    await scheduler.get_by_role("button", name="Add to the waitlist").click()
    await scheduler.get_by_text("The recipient is on this location's waitlist").wait_for()
    await scheduler.locator("#recipient-waitlist").get_by_text("Waiting").wait_for()
    await scheduler.locator("#f-product_code").select_option(product)
    await scheduler.get_by_role("button", name="Add to the waitlist").click()  # once is enough
    await scheduler.get_by_role("alert").get_by_text("this recipient is already on this waitlist").wait_for()
    assert await _count(sessions, WaitlistEntry, WaitlistEntry.recipient_id == recipient.id) == 1

    # A read-only user sees the location's waitlist, without any change button.
    watcher, reader = await _context(browser, live_server, "readonly")
    await reader.goto("/portal/waitlist?status=waiting")
    row = reader.locator("#waitlist tr", has_text=recipient.last_name)
    await row.get_by_text("Waiting").wait_for()
    assert await reader.locator("[data-changes]").count() == 0
    await screenshot(reader, "portal-waitlist-readonly")
    await watcher.close()

    await scheduler.get_by_role("link", name="Waitlist", exact=True).click()
    row = scheduler.locator("#waitlist tr", has_text=recipient.last_name)
    await row.get_by_text("Waiting").wait_for()
    await screenshot(scheduler, "portal-waitlist")
    await row.get_by_role("button", name="Remove from the waitlist").click()
    await scheduler.get_by_text("The entry is taken off the waitlist.").wait_for()
    await scheduler.goto("/portal/waitlist?status=removed")
    await scheduler.locator("#waitlist tr", has_text=recipient.last_name).get_by_text("Removed").wait_for()
    async with transaction(sessions) as db:
        entry = (
            await db.execute(select(WaitlistEntry).where(WaitlistEntry.recipient_id == recipient.id))
        ).scalar_one()
    assert entry.status == "removed" and entry.product_code == product
    await context.close()
