"""The schedules pages in a real headless browser, in English and Spanish: a manager reads the
schedules and records a condition on a recipient; the administrator proposes a longer interval,
previews whose next dose moves (the recipient by name) and saves the version. axe-core checks
every page; screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from records.db import transaction, utcnow
from records.schedules import schedule_versions
from tests.browser_fixtures import assert_accessible, screenshot
from tests.conftest import DEMO_PASSWORD, login
from tests.journeys import add_lot, document, new_recipient, unique

CODE = "mpox-jynneos"
DAY = 2.0  # settings.day_seconds in the test session
WORDS = {
    "en": {
        "list": "Vaccination schedules",
        "preview": "Preview the change",
        "moves": "Whose next dose moves",
        "save": "Save version",
        "saved": "The new version of the schedule is saved",
        "record": "Record: immunocompromised",
        "condition": "Immunocompromised",
    },
    "es": {
        "list": "Esquemas de vacunación",
        "preview": "Ver el cambio antes de guardar",
        "moves": "A quién se le mueve la próxima dosis",
        "save": "Guardar la versión",
        "saved": "La nueva versión del esquema se guardó",
        "record": "Registrar: inmunodeprimida",
        "condition": "Inmunodeprimida",
    },
}


async def logged_in(browser: Any, live_server: str, login_name: str, lang: str) -> Any:
    """A page logged in as `login_name` (the login form is English), reading the portal in `lang`."""
    context = await browser.new_context(
        base_url=live_server, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = await context.new_page()
    await page.goto("/portal/login")
    await page.locator("#f-login_name").fill(login_name)
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    await context.add_cookies([{"name": "cvms_lang", "value": lang, "url": live_server}])
    return page


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_an_administrator_edits_a_schedule_in_the_browser(browser, live_server, api, sessions, lang):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    lot = await add_lot(sessions, "jynneos")
    given_at = utcnow() - timedelta(seconds=30 * DAY)
    given = await document(api, provider, recipient.id, product="jynneos", lot=lot, given_at=given_at)
    assert given.status_code == 201, given.text
    async with transaction(sessions) as db:
        newest = (await schedule_versions(db, CODE))[-1]
    longer = newest.body["primary"][1]["min_interval_days"] + 7
    words = WORDS[lang]

    page = await logged_in(browser, live_server, "manager", lang)
    try:
        await page.goto("/portal/schedules")
        await page.get_by_role("heading", name=words["list"], exact=True).wait_for()
        await page.get_by_text("JYNNEOS (mpox)").first.wait_for()
        assert await page.locator(f'a[href="/portal/schedules/{CODE}/edit"]').count() == 0
        await assert_accessible(page)
        await screenshot(page, f"schedules-manager-{lang}")
        await page.goto(f"/portal/recipients/{recipient.id}")
        await page.get_by_role("button", name=words["record"]).click()
        await page.wait_for_url("**notice=condition_recorded")
        await page.locator("#conditions li").filter(has_text=words["condition"]).wait_for()
        await assert_accessible(page)
        await screenshot(page, f"recipient-condition-{lang}")
    finally:
        await page.context.close()

    page = await logged_in(browser, live_server, "agent", lang)  # the demo programme administrator
    try:
        await page.goto("/portal/schedules")
        await page.locator(f'a[href="/portal/schedules/{CODE}/edit"]').click()
        await page.locator("#f-dose2_min_interval_days").wait_for()
        await assert_accessible(page)
        await screenshot(page, f"schedule-edit-{lang}")
        await page.locator("#f-dose2_min_interval_days").fill(str(longer))
        await page.locator("#f-reason").fill(unique("longer interval "))
        await page.get_by_role("button", name=words["preview"]).click()
        await page.get_by_role("heading", name=words["moves"]).wait_for()
        row = page.locator("#moved tbody tr").filter(
            has_text=f"{recipient.last_name}, {recipient.first_name}"
        )
        await row.wait_for()
        await assert_accessible(page)
        await screenshot(page, f"schedule-preview-{lang}")
        await page.get_by_role("button", name=f"{words['save']} {newest.version + 1}").click()
        await page.wait_for_url("**/portal/schedules/mpox-jynneos?notice=schedule_saved")
        await page.get_by_role("status").filter(has_text=words["saved"]).wait_for()
        await assert_accessible(page)
        await screenshot(page, f"schedule-saved-{lang}")
    finally:
        await page.context.close()
    async with transaction(sessions) as db:
        saved = (await schedule_versions(db, CODE))[-1]
    assert saved.version == newest.version + 1
    assert saved.body["primary"][1]["min_interval_days"] == longer
