"""Inventory, marketplace, listing and the public finder in a real headless browser."""

from __future__ import annotations

import uuid

from tests.browser_fixtures import screenshot
from tests.inventory import headers_for, ledger, new_site
from tests.journeys import book, new_product, new_recipients, publish_slot
from worker.seed import DEMO_PASSWORD


async def log_in(page, login_name: str) -> None:
    await page.goto("/portal/login")
    await page.locator("#f-login_name").fill(login_name)
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/portal")


async def test_manager_receives_wastes_and_sees_bookings_exceed_stock_then_publishes_to_the_finder(
    page, api, sessions
):
    name = f"Riverside Clinic {uuid.uuid4().hex[:4]}"
    site = await new_site(sessions, name=name)
    product = await new_product(sessions)
    lot_number = f"PG-{uuid.uuid4().hex[:6]}".upper()
    await log_in(page, site.manager)

    await page.goto("/portal/inventory")
    await page.locator("#f-product_code").select_option(product)
    await page.locator("#f-lot_number").fill(lot_number)
    await page.locator("#f-expires_on").fill("2031-03-31")
    await page.locator("#f-doses_received").fill("3")
    await page.get_by_role("button", name="Receive lot").click()
    await page.get_by_text("The doses are added to the inventory.").wait_for()
    row = page.locator("#lots tr", has_text=lot_number)
    await row.locator("input[name=doses]").nth(1).fill("1")
    await row.locator("select[name=reason]").select_option("broken_vial")
    await row.get_by_role("button", name="Log waste").click()
    await page.get_by_text("The waste is logged.").wait_for()
    assert (await page.locator("#lots tr", has_text=lot_number).locator("td").nth(3).inner_text()) == "2"

    # Three bookings against two doses: the page warns.
    manager = await headers_for(api, site.manager)
    slot = await publish_slot(api, manager, start_in=3600, capacity=3, product=product)
    for recipient_id in await new_recipients(sessions, 3):
        assert (await book(api, manager, recipient_id, slot["id"])).status_code == 201
    await page.goto("/portal/inventory")
    warning = page.get_by_role("alert").filter(has_text=f"{product}: 3 booked")
    await warning.wait_for()
    await screenshot(page, "inventory-demand-warning")
    await page.goto("/portal/appointments")
    await (
        page.locator("#demand-section")
        .get_by_role("alert")
        .filter(has_text=f"{product}: 3 booked")
        .wait_for()
    )

    await page.goto("/portal/listing")
    await page.locator("#f-published").check()
    await page.locator("#f-opens_0").fill("08:00")
    await page.locator("#f-closes_0").fill("16:30")
    await page.get_by_role("button", name="Save listing").click()
    await page.get_by_text("The public listing is saved.").wait_for()

    # The public finder, without a login, in Spanish.
    await page.context.clear_cookies()
    await page.goto(f"/find?lang=es&product={product}")
    card = page.locator("section.location", has_text=name)
    await card.wait_for()
    text = await card.inner_text()
    assert "lunes 08:00–16:30" in text and "Citas y sin cita" in text and "3 plazas" not in text
    assert "Encuentre un lugar de vacunación" in await page.locator("h1").inner_text()
    await screenshot(page, "finder-es")
    assert await ledger(sessions, (await api.get("/inventory", headers=manager)).json()["lots"][0]["id"]) == (
        2,
        2,
    )
