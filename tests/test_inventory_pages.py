"""Inventory, marketplace, listing and the public finder in a real headless browser."""

from __future__ import annotations

import uuid

from tests.browser_fixtures import screenshot
from tests.inventory import headers_for, ledger, new_site, receive_lot
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
    warning = page.get_by_role("alert").filter(has_text=f"Testvax {product[-4:]}: 3 booked")
    await warning.wait_for()
    await screenshot(page, "inventory-demand-warning")
    await page.goto("/portal/appointments")
    await (
        page.locator("#demand-section")
        .get_by_role("alert")
        .filter(has_text=f"Testvax {product[-4:]}: 3 booked")
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


async def test_two_managers_match_an_offer_and_a_request_and_confirm_the_transfer_in_their_pages(
    browser, live_server, api, sessions
):
    surplus, short = await new_site(sessions), await new_site(sessions, scheduling=False)
    product = await new_product(sessions)
    lot = await receive_lot(api, await headers_for(api, surplus.manager), product, 10)
    pages: dict = {}
    try:
        await _offer_request_and_confirm(browser, live_server, sessions, surplus, short, product, lot, pages)
    finally:
        for page in pages.values():
            await page.context.close()


async def _offer_request_and_confirm(browser, live_server, sessions, surplus, short, product, lot, pages):
    name = f"Testvax {product[-4:]}"  # pages name a product, never show its code (tests.journeys.new_product)
    for who, site in (("giver", surplus), ("taker", short)):
        context = await browser.new_context(
            base_url=live_server, locale="en-US", viewport={"width": 1200, "height": 900}
        )
        context.set_default_timeout(15_000)
        pages[who] = await context.new_page()
        await log_in(pages[who], site.manager)
    giver, taker = pages["giver"], pages["taker"]

    # The surplus location offers 6 of its 10 doses.
    await giver.goto("/portal/marketplace")
    offer_form = giver.locator("form", has=giver.get_by_role("button", name="Offer", exact=True))
    await offer_form.get_by_label("Lot").select_option(str(lot["id"]))
    await offer_form.get_by_label("Doses").fill("6")
    await offer_form.get_by_role("button", name="Offer", exact=True).click()
    await giver.get_by_text("Your listing is posted.").wait_for()
    await giver.locator("#offers tr", has_text=lot["lot_number"]).get_by_text("Open").wait_for()

    # The short location sees the offer and asks for 4: the two match at once.
    await taker.goto("/portal/marketplace")
    await taker.locator("#offers tr", has_text=surplus.code).get_by_text(name).wait_for()
    request_form = taker.locator("form", has=taker.get_by_role("button", name="Request", exact=True))
    await request_form.get_by_label("Product").select_option(product)
    await request_form.get_by_label("Doses").fill("0")
    await request_form.get_by_role("button", name="Request", exact=True).click()
    await request_form.locator(".field.invalid").get_by_text("Doses").wait_for()  # beside its own field
    assert await taker.locator("form .field.invalid").count() == 1
    assert await request_form.get_by_label("Product").input_value() == product
    await request_form.get_by_label("Doses").fill("4")
    await request_form.get_by_role("button", name="Request", exact=True).click()
    await taker.get_by_text("Your listing matched another location's").wait_for()
    await screenshot(taker, "marketplace-matched")
    await taker.locator("#requests tr", has_text=name).get_by_role("link", name="see the transfer").click()
    await taker.wait_for_url("**/portal/inventory#transfers")

    # Both managers confirm on their inventory pages; the second confirmation moves the doses.
    row = taker.locator("#transfers tr", has_text=name)
    await row.get_by_text("Waiting for confirmation").wait_for()
    await row.get_by_role("button", name="Confirm").click()
    await taker.get_by_text("Your confirmation is recorded.").wait_for()
    await (
        taker.locator("#transfers tr", has_text=name)
        .get_by_text("Confirmed by you; waiting for the other location")
        .wait_for()
    )

    await giver.goto("/portal/inventory")
    row = giver.locator("#transfers tr", has_text=name)
    await row.get_by_role("button", name="Confirm").click()
    await giver.get_by_text("Your confirmation is recorded.").wait_for()
    await giver.locator("#transfers tr", has_text=name).get_by_text("Completed").wait_for()
    sent = giver.locator("#lots tr", has_text=lot["lot_number"])
    assert (await sent.locator("td").nth(3).inner_text()) == "6"
    await screenshot(giver, "inventory-transfer-sent")

    await taker.goto("/portal/inventory")
    row = taker.locator("#transfers tr", has_text=name)
    assert [await cell.inner_text() for cell in await row.locator("td").all()][:5] == [
        f"Test Clinic {surplus.code[2:]}",
        f"Test Clinic {short.code[2:]}",
        name,
        "4",
        "Completed",
    ]
    received = taker.locator("#lots tr", has_text=lot["lot_number"])
    assert (await received.locator("td").nth(3).inner_text()) == "4"
    await screenshot(taker, "inventory-transfer-received")
    await taker.goto("/portal/marketplace")
    await taker.locator("#requests tr", has_text=name).get_by_text("Fulfilled").wait_for()

    assert await ledger(sessions, lot["id"]) == (6, 6)
