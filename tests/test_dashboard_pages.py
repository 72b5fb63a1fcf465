"""The dashboard and the programme report in a real headless browser: English and Spanish, at
1280 px and on a 390 px phone, axe on every page, a screenshot of each in test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_fixtures import assert_accessible, screenshot
from tests.dashboard_data import build
from worker.seed import DEMO_PASSWORD

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
TEXTS = {
    "en": ("Doses given per day, last 8 weeks", "Programme report: doses at", "Download these numbers (CSV)"),
    "es": (
        "Dosis administradas por día, últimas 8 semanas",
        "Informe del programa: dosis en",
        "Descargar estas cifras (CSV)",
    ),
}


async def _page(browser: Any, live_server: str, lang: str, width: str) -> Any:
    w, h = WIDTHS[width]
    context = await browser.new_context(
        base_url=live_server, locale="en-US", viewport={"width": w, "height": h}
    )
    context.set_default_timeout(20_000)
    await context.add_cookies([{"name": "cvms_lang", "value": lang, "url": live_server}])
    return await context.new_page()


async def _log_in(page: Any, login_name: str) -> None:
    await page.goto("/portal/login")
    await page.locator("#f-login_name").fill(login_name)
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.locator("form button[type=submit]").last.click()
    await page.wait_for_url("**/portal")


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("width", ["desktop", "phone"])
async def test_the_dashboard_and_the_programme_report_read_in_both_languages_on_a_desktop_and_a_phone(
    browser, live_server, sessions, lang, width
):
    known = await build(sessions)
    page = await _page(browser, live_server, lang, width)
    try:
        await _log_in(page, known.site.manager)
        dashboard_title, report_title, download = TEXTS[lang]

        await page.goto("/portal/dashboard")
        await page.get_by_role("heading", name=dashboard_title).wait_for()
        for key in ("doses", "capacity", "no-shows", "stock"):
            figure = page.locator(f"section#{key}")
            assert await figure.locator("svg").count() == 1
            assert await figure.get_by_role("table").count() == 1
            assert (
                await figure.get_by_role("link", name=download).get_attribute("href")
                == f"/portal/dashboard/{key}.csv"
            )
        # The chart fits the screen: no sideways scrolling of the page on a phone.
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        await assert_accessible(page)
        await screenshot(page, f"dashboard-{lang}-{width}")

        async with page.expect_download() as downloading:
            await page.locator("section#stock").get_by_role("link", name=download).click()
        saved = await (await downloading.value).path()
        assert saved is not None and "15" in open(saved, encoding="utf-8").read()

        await page.goto("/portal/reports/equity?by=county&weeks=4")
        await page.get_by_role("heading", name=report_title).wait_for()
        await page.locator("#f-by").select_option("age_band")
        await page.locator("form.report-choice button[type=submit]").click()
        await page.wait_for_url("**by=age_band**")
        table = page.locator("section#equity-age_band table")
        assert "25-49" in await table.inner_text()
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        await assert_accessible(page)
        await screenshot(page, f"equity-report-{lang}-{width}")
    finally:
        await page.context.close()
