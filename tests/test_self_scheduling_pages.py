"""A person books themselves from the finder on a 390 px phone, in Spanish, in a real browser:
every page passes axe-core and fits the screen's width."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from records.db import transaction, utcnow
from records.scheduling import Appointment
from records.waiting_room import Release
from tests.browser_fixtures import assert_accessible, screenshot
from tests.inventory import headers_for, new_site, receive_lot
from tests.journeys import mail, new_product, publish_slot, text_of
from tests.test_inventory_pages import log_in
from tests.test_waiting_room import join, released_site, turns_so_far

PHONE = {"width": 390, "height": 844}


async def fits_the_phone(page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


async def check(page, name: str) -> None:
    await fits_the_phone(page)
    await assert_accessible(page)
    await screenshot(page, name)


async def test_a_person_registers_and_books_from_the_finder_in_spanish_on_a_phone(
    browser, live_server, api, sessions, smtp
):
    site = await new_site(sessions, published=True)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    await receive_lot(api, manager, product, 10)
    await api.patch("/location/listing", json={"self_scheduling": True}, headers=manager)
    slot = await publish_slot(api, manager, start_in=7200, length=900, capacity=2, product=product)

    context = await browser.new_context(base_url=live_server, locale="es-US", viewport=PHONE, is_mobile=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto("/find?near=27701")
        section = page.locator(f"section:has(h2#loc-{site.code})")
        await section.get_by_role("link", name="Reservar una hora en línea").click()
        await page.wait_for_url(re.compile(f"/find/{site.code}/times"))
        await check(page, "self-scheduling-times-es-390")
        await page.locator(f"#slot-{slot['id']}").check()
        await page.get_by_role("button", name="Elegir este horario").click()
        await page.wait_for_url(re.compile("/find/register/"))
        await check(page, "self-scheduling-register-es-390")

        email = f"lucia.{uuid.uuid4().hex[:8]}@example.org"
        await page.fill("#f-first_name", "Lucía")
        await page.fill("#f-last_name", f"Pérez{uuid.uuid4().hex[:5]}")
        await page.fill("#f-date_of_birth", "1975-06-30")
        await page.select_option("#f-sex", "female")
        await page.fill("#f-email", email)
        await page.select_option("#f-preferred_language", "es")
        await page.get_by_role("button", name="Enviarme el código").click()
        await page.wait_for_url(re.compile("/find/verify/"))
        await check(page, "self-scheduling-code-es-390")

        message = await mail(smtp, email, "Su código")
        code = re.search(r"^(\d{6})\s*$", text_of(message), re.MULTILINE).group(1)
        await page.fill("#f-code", code)
        await page.get_by_role("button", name="Confirmar y reservar").click()
        await page.wait_for_url(re.compile("/find/booked/"))
        assert await page.locator("h1").inner_text() == "Su cita está reservada"
        assert await page.locator("#dose2").is_visible()
        await check(page, "self-scheduling-booked-es-390")
    finally:
        await context.close()
    async with transaction(sessions) as db:
        booked = (
            (await db.execute(select(Appointment).where(Appointment.slot_id == slot["id"]))).scalars().all()
        )
        assert [a.dose_number for a in booked] == [1]


async def test_the_waiting_room_page_follows_the_line_by_itself_in_spanish_on_a_phone(
    browser, live_server, api, sessions, settings
):
    """The position page asks the server as it suggests and opens the way in when the turn comes,
    with nobody pressing anything."""
    site, _slot, release_id = await released_site(api, sessions, capacity=2)
    context = await browser.new_context(base_url=live_server, locale="es-US", viewport=PHONE, is_mobile=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto(f"/find/{site.code}/queue")
        await check(page, "waiting-room-join-es-390")
        await page.locator("form button[type=submit]").last.click()
        await page.wait_for_url(re.compile("/find/queue/"))
        assert "delante de usted" in await page.locator("#position").inner_text()
        await check(page, "waiting-room-place-es-390")

        # The release is seconds away: the page now asks every few seconds.
        async with transaction(sessions) as db:
            await db.execute(
                update(Release)
                .where(Release.id == release_id)
                .values(release_at=utcnow() + timedelta(seconds=8))
            )
        await page.reload()
        assert await page.locator("#position").get_attribute("data-every") == "3"
        await turns_so_far(sessions, release_id, 1)
        await page.locator("#admitted").wait_for()
        assert "Es su turno" in await page.locator("#position").inner_text()
        await check(page, "waiting-room-admitted-es-390")
    finally:
        await context.close()


async def test_a_manager_opens_a_release_and_watches_the_line(page, api, sessions, settings):
    """The waiting-room page and GET /location/releases/current call the same service."""
    site = await new_site(sessions, published=True)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    await receive_lot(api, manager, product, 10)
    await api.patch("/location/listing", json={"self_scheduling": True}, headers=manager)
    await publish_slot(api, manager, start_in=2 * 86400, length=900, capacity=4, product=product)
    none = await api.get("/location/releases/current", headers=manager)
    assert none.status_code == 404 and none.json()["code"] == "no_waiting_room"

    await log_in(page, site.manager)
    await page.goto("/portal/listing")
    await page.get_by_role("link", name="Waiting room: release seats").click()
    await page.wait_for_url("**/portal/waiting-room")
    await check_desktop(page, "waiting-room-manager-empty")
    # A missing time is said beside its field, and nothing is opened.
    await page.get_by_role("button", name="Open the release").click()
    await page.locator("#e-release_at").wait_for()
    assert (await api.get("/location/releases/current", headers=manager)).status_code == 404
    await assert_accessible(page)

    await page.locator("#f-release_at").fill("2031-05-01T09:00")
    await page.locator("#f-admit_per_minute").fill("2")
    await page.locator("#f-admission_minutes").fill("5")
    await page.get_by_role("button", name="Open the release").click()
    await page.get_by_text("The release is open").wait_for()
    for _ in range(3):
        await join(api, settings, site, f"b-{uuid.uuid4().hex}")
    await page.goto("/portal/waiting-room")
    assert await page.locator("#room-waiting").inner_text() == "3"
    assert await page.locator("#room-free").inner_text() == "4"
    assert "9:00" in await page.locator("#now + p").inner_text()
    await check_desktop(page, "waiting-room-manager")

    room = (await api.get("/location/releases/current", headers=manager)).json()
    assert (room["waiting"], room["choosing"], room["used"], room["free_seats"]) == (3, 0, 0, 4)
    assert room["release"]["admit_per_minute"] == 2 and room["release"]["admission_seconds"] == 300
    assert room["release"]["release_at"].startswith("2031-05-01T13:00")  # 09:00 in New York
    # The last of three at 2 a minute gets a turn 1.5 minutes after the release.
    assert room["everyone_in_by"].startswith("2031-05-01T13:01:30")


async def check_desktop(page, name: str) -> None:
    await assert_accessible(page)
    await screenshot(page, name)


async def test_a_person_joins_the_waitlist_in_spanish_on_a_phone(browser, live_server, api, sessions, smtp):
    site = await new_site(sessions, published=True)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    await receive_lot(api, manager, product, 10)
    await api.patch("/location/listing", json={"self_scheduling": True}, headers=manager)
    await publish_slot(api, manager, start_in=7200, length=900, capacity=1, product=product)

    context = await browser.new_context(base_url=live_server, locale="es-US", viewport=PHONE, is_mobile=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    try:
        await page.goto(f"/find/{site.code}/waitlist")
        await check(page, "self-waitlist-es-390")
        email = f"marta.{uuid.uuid4().hex[:8]}@example.org"
        await page.fill("#f-first_name", "Marta")
        await page.fill("#f-last_name", f"Ruiz{uuid.uuid4().hex[:5]}")
        await page.fill("#f-date_of_birth", "1968-02-11")
        await page.select_option("#f-sex", "female")
        await page.fill("#f-email", email)
        await page.get_by_role("button", name="Enviarme el código").click()
        await page.wait_for_url(re.compile("/find/verify/"))
        code = re.search(r"^(\d{6})\s*$", text_of(await mail(smtp, email, "Su código")), re.MULTILINE).group(
            1
        )
        await page.fill("#f-code", code)
        await page.locator("form button[type=submit]").last.click()
        await page.wait_for_url(re.compile("/find/booked/"))
        assert await page.locator("h1").inner_text() == "Está en la lista de espera"
        await check(page, "self-waitlisted-es-390")
    finally:
        await context.close()
