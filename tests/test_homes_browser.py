"""The homes in a real headless browser (Debian's Chromium through Playwright), in English and
Spanish, at 1280 px and on a 390 px phone: the front desk's home (today's appointments, check
in inline), the recipient page's next step, the scheduler's week of slots, and the recipient's
booking page, whose week of times fits in two phone screens. axe-core checks every page
visited; screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from domain.journey_messages import LINK_BOOK, LINK_RECORD
from domain.security import sign_link
from tests.browser_fixtures import assert_accessible, screenshot
from tests.inventory import headers_for, new_site
from tests.journeys import add_lot, book, document, new_product, publish_slot, unique
from tests.test_homes import recipient_with_phone, seconds_into_today
from tests.test_portal_pages import log_in

SIZES = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}
WORDS = {
    "en": {
        "today": "Today's appointments",
        "check_in": "Check in",
        "checked": "Checked in",
        "next": "Next step:",
    },
    "es": {
        "today": "Citas de hoy",
        "check_in": "Registrar llegada",
        "checked": "Registrada su llegada",
        "next": "Siguiente paso:",
    },
}
DAY = 86_400


async def opened(browser: Any, live_server: str, lang: str, width: int) -> Any:
    context = await browser.new_context(base_url=live_server, locale="en-US", viewport=SIZES[width])
    context.set_default_timeout(20_000)
    await context.add_cookies([{"name": "cvms_lang", "value": lang, "url": live_server}])
    return await context.new_page()


async def logged_in(page: Any, live_server: str, login_name: str, lang: str) -> None:
    """Logs in (the form's words are English), then reads the portal in `lang`."""
    await page.context.clear_cookies()
    await log_in(page, login_name)
    await page.context.add_cookies([{"name": "cvms_lang", "value": lang, "url": live_server}])
    await page.goto("/portal")


async def checked_page(page: Any, name: str) -> None:
    await assert_accessible(page)
    await screenshot(page, name)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "es"])
async def test_the_front_desk_and_scheduler_homes(browser, live_server, api, sessions, lang, width):
    site = await new_site(sessions)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    recipient = await recipient_with_phone(sessions, "9195550150")
    slot = await publish_slot(api, manager, start_in=seconds_into_today(), length=600, product=product)
    assert (await book(api, manager, recipient.id, slot["id"])).status_code == 201
    words = WORDS[lang]

    page = await opened(browser, live_server, lang, width)
    try:
        await logged_in(page, live_server, site.provider, lang)
        await page.get_by_role("heading", name=words["today"]).wait_for()
        row = page.locator("#today tbody tr").filter(has_text=recipient.full_name)
        await row.wait_for()
        await checked_page(page, f"home-front-desk-{lang}-{width}")
        await row.get_by_role("button", name=words["check_in"]).click()
        await page.wait_for_url("**/portal?notice=checked_in")
        await row.get_by_text(words["checked"]).wait_for()
        await checked_page(page, f"home-front-desk-checked-in-{lang}-{width}")

        await page.locator("#f-q").fill("919-555-0150")
        await page.locator("#f-q").press("Enter")
        await page.get_by_role("link", name=f"{recipient.last_name}, {recipient.first_name}").click()
        await page.locator("#next-step").get_by_text(words["next"]).wait_for()
        await checked_page(page, f"recipient-next-step-{lang}-{width}")

        await logged_in(page, live_server, site.manager, lang)
        await page.goto("/portal/slots")
        assert await page.locator("section.slot-day").count() == 7
        await page.locator("section.slot-day").first.get_by_text("1").first.wait_for()
        await checked_page(page, f"home-scheduler-week-{lang}-{width}")
        await page.locator("a[rel=next]").first.click()
        await page.wait_for_url("**/portal/slots?view=week&day=*")
        await assert_accessible(page)
    finally:
        await page.context.close()


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_a_week_of_times_fits_two_phone_screens(browser, live_server, api, sessions, settings, lang):
    site = await new_site(sessions)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    recipient = await recipient_with_phone(sessions, "9195550151")
    first = await publish_slot(api, manager, start_in=seconds_into_today(), length=600, product=product)
    booked = await book(api, manager, recipient.id, first["id"])
    assert booked.status_code == 201
    for day in range(1, 8):  # a week of times, five a day
        for hour in range(5):
            await publish_slot(api, manager, start_in=day * DAY + hour * 3600, length=600, product=product)
    link = {"j": booked.json()["journey_id"], "n": 1, "t": unique("week-")}
    token = sign_link(settings.secret_key, LINK_BOOK, link)

    page = await opened(browser, live_server, lang, 390)
    try:
        await page.goto(f"/r/book/{token}")
        picker = page.locator("fieldset.times")
        await picker.wait_for()
        assert await picker.locator("fieldset.day").count() >= 7
        assert await picker.locator("input[type=radio]").count() >= 35
        legend = await picker.locator("legend").first.inner_text()
        assert ("Eastern Time" if lang == "en" else "hora oriental") in legend
        assert ":00:00" not in await picker.inner_text()  # no seconds
        form_bottom = await page.evaluate(
            "() => { const f = document.querySelector('fieldset.times').closest('form');"
            " return f.getBoundingClientRect().bottom + window.scrollY; }"
        )
        assert form_bottom <= 2 * SIZES[390]["height"], f"the week of times ends at {form_bottom} px"
        await checked_page(page, f"recipient-booking-week-{lang}-390")
    finally:
        await page.context.close()


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_the_record_page_on_a_phone_labels_each_dose_cell_and_shows_the_health_card(
    browser, live_server, api, sessions, settings, lang
):
    site = await new_site(sessions)
    provider = await headers_for(api, site.provider)
    product = await new_product(sessions)
    recipient = await recipient_with_phone(sessions, "9195550152")
    lot = await add_lot(sessions, product, location=site.code)
    given = await document(api, provider, recipient.id, product=product, lot=lot)
    assert given.status_code == 201, given.text
    token = sign_link(settings.secret_key, LINK_RECORD, {"r": recipient.id, "j": given.json()["journey_id"]})

    page = await opened(browser, live_server, lang, 390)
    try:
        await page.goto(f"/r/record/{token}")
        cell = page.locator("table.list tbody td").nth(2)  # the lot
        label = await cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == f'"{"Lot" if lang == "en" else "Lote"}: "'
        qr = page.locator(".health-card img")
        await qr.scroll_into_view_if_needed()
        shown = await qr.evaluate(
            "img => [img.complete, img.naturalWidth, img.getBoundingClientRect().width]"
        )
        assert shown[0] and shown[1] > 0 and 0 < shown[2] <= SIZES[390]["width"]
        await checked_page(page, f"recipient-record-{lang}-390")
    finally:
        await page.context.close()
