"""Inventory that cannot drift: stock is the sum of each lot's events, whatever happens to it."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import date
from typing import Any

from babel.dates import format_date
from sqlalchemy import select, update

from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from records.db import transaction
from records.journeys import Dose
from records.products import InventoryLot
from tests.inventory import headers_for, ledger, new_site, on_hand, receive_lot
from tests.journeys import book, document, new_product, new_recipient, new_recipients, publish_slot


async def test_stock_follows_deliveries_doses_corrections_removals_waste_and_transfers(api, sessions):
    site, other = await new_site(sessions, scheduling=False), await new_site(sessions, scheduling=False)
    manager, provider = await headers_for(api, site.manager), await headers_for(api, site.provider)
    product = await new_product(sessions)
    main = await receive_lot(api, manager, product, 10)
    spare = await receive_lot(api, manager, product, 1)
    assert main["on_hand"] == 10

    more = await api.post(f"/lots/{main['id']}/receipts", json={"doses": 5}, headers=manager)
    assert more.status_code == 201 and more.json()["on_hand"] == 15

    first, second = await new_recipient(sessions), await new_recipient(sessions)
    given = []
    for recipient in (first, second):
        response = await document(api, provider, recipient.id, product=product, lot=main["lot_number"])
        assert response.status_code == 201, response.text
        given.append(response.json())
    assert await on_hand(api, manager, main["id"]) == 13

    # Correcting a dose's lot moves its unit: back to the old lot, out of the new one.
    moved = await api.patch(
        f"/doses/{given[1]['id']}",
        json={"lot_number": spare["lot_number"], "reason": "wrong vial scanned"},
        headers=provider,
    )
    assert moved.status_code == 200, moved.text
    assert (await on_hand(api, manager, main["id"]), await on_hand(api, manager, spare["id"])) == (14, 0)

    # The spare lot is empty now: moving another dose into it is refused and changes nothing.
    refused = await api.patch(
        f"/doses/{given[0]['id']}",
        json={"lot_number": spare["lot_number"], "reason": "wrong vial scanned"},
        headers=provider,
    )
    assert refused.status_code == 409 and refused.json()["code"] == "lot_empty", refused.text
    doses = (await api.get(f"/recipients/{first.id}/doses", headers=provider)).json()
    assert doses[0]["lot_number"] == main["lot_number"]
    assert (await on_hand(api, manager, main["id"]), await on_hand(api, manager, spare["id"])) == (14, 0)

    # Removing a dose in error returns it to the lot it was last taken from.
    removed = await api.post(
        f"/doses/{given[1]['id']}/remove", json={"reason": "wrong patient"}, headers=provider
    )
    assert removed.status_code == 200, removed.text
    assert await on_hand(api, manager, spare["id"]) == 1

    wasted = await api.post(
        f"/lots/{main['id']}/waste", json={"doses": 2, "reason": "broken_vial"}, headers=provider
    )
    assert wasted.status_code == 201 and wasted.json()["on_hand"] == 12
    too_many = await api.post(
        f"/lots/{main['id']}/waste", json={"doses": 13, "reason": "expired"}, headers=provider
    )
    assert too_many.status_code == 409 and too_many.json()["on_hand"] == 12
    bad_reason = await api.post(
        f"/lots/{main['id']}/waste", json={"doses": 1, "reason": "lost interest"}, headers=provider
    )
    assert bad_reason.status_code == 422

    # A transfer is recorded on both sides once the receiving manager confirms.
    sent = await api.post(
        "/transfers", json={"to_location_code": other.code, "lot_id": main["id"], "doses": 4}, headers=manager
    )
    assert sent.status_code == 201, sent.text
    transfer = sent.json()
    assert transfer["status"] == "proposed" and transfer["sender_confirmed_by"]
    assert await on_hand(api, manager, main["id"]) == 12
    receiver = await headers_for(api, other.manager)
    confirmed = await api.post(f"/transfers/{transfer['id']}/confirm", json={}, headers=receiver)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "completed", confirmed.text
    assert await on_hand(api, manager, main["id"]) == 8
    received = confirmed.json()["received_lot_id"]
    assert await on_hand(api, receiver, received) == 4
    again = await api.post(f"/transfers/{transfer['id']}/confirm", json={}, headers=receiver)
    assert again.status_code == 409

    events = (await api.get(f"/lots/{main['id']}/events", headers=provider)).json()
    assert [(e["kind"], e["quantity"]) for e in events] == [
        ("received", 10),
        ("received", 5),
        ("administered", -1),
        ("administered", -1),
        ("moved", 1),
        ("wasted", -2),
        ("transfer_out", -4),
    ]
    assert events[-2]["reason"] == "broken_vial"
    assert sum(e["quantity"] for e in events) == 8
    for lot_id, expected in ((main["id"], 8), (spare["id"], 1), (received, 4)):
        assert await ledger(sessions, lot_id) == (expected, expected)
    for headers in (manager, receiver):
        audit = (await api.get("/inventory/audit", headers=headers)).json()
        assert audit["consistent"] and all(lot["on_hand"] == lot["from_events"] for lot in audit["lots"])
    stock = (await api.get("/inventory", headers=provider)).json()
    assert {p["product_code"]: p["on_hand"] for p in stock["products"]} == {product: 9}


async def test_documenting_from_a_lot_with_no_doses_left_is_a_409_and_records_no_dose(api, sessions):
    site = await new_site(sessions, scheduling=False)
    manager, provider = await headers_for(api, site.manager), await headers_for(api, site.provider)
    product = await new_product(sessions)
    last_dose = await receive_lot(api, manager, product, 1)
    recipients = await new_recipients(sessions, 4)

    # Two providers reach for the last dose at once: the database lets exactly one have it.
    racing = await asyncio.gather(
        *(
            document(api, provider, rid, product=product, lot=last_dose["lot_number"])
            for rid in recipients[:3]
        )
    )
    statuses = sorted(r.status_code for r in racing)
    assert statuses == [201, 409, 409], [r.text for r in racing]
    refusal = next(r for r in racing if r.status_code == 409).json()
    assert refusal["code"] == "lot_empty" and refusal["on_hand"] == 0
    async with transaction(sessions) as db:
        doses = (await db.execute(select(Dose).where(Dose.recipient_id.in_(recipients)))).scalars().all()
    assert len(doses) == 1
    assert await ledger(sessions, last_dose["id"]) == (0, 0)

    never_received = await receive_lot(api, manager, product, 0)
    empty = await document(api, provider, recipients[3], product=product, lot=never_received["lot_number"])
    assert empty.status_code == 409 and empty.json()["code"] == "lot_empty"


def shown_warning(page: str, code: str) -> str:
    """The text of the page's warning with that code."""
    found = re.search(rf'<p class="warning" role="alert" data-code="{code}">(.*?)</p>', page, re.S)
    assert found, f"no {code} warning on the page"
    return html.unescape(found.group(1)).strip()


async def test_demand_against_stock_warns_when_bookings_exceed_it_and_slots_without_stock_warn(
    api, sessions, settings
):
    site = await new_site(sessions, scheduling=True)
    manager = await headers_for(api, site.manager)
    stocked, unstocked = await new_product(sessions), await new_product(sessions)
    await receive_lot(api, manager, stocked, 1)

    seats = await publish_slot(api, manager, start_in=3600, capacity=3, product=stocked)
    (warning,) = seats["warnings"]
    assert warning["code"] == "seats_exceed_stock" and warning["product_code"] == stocked
    assert warning["params"] == {"product": stocked, "seats": 3, "stock": 1}
    assert warning["message"] == f"3 open seats for {stocked} but only 1 doses on hand"
    nothing = await publish_slot(api, manager, start_in=3600, capacity=2, product=unstocked)
    (warning,) = nothing["warnings"]
    assert warning["code"] == "no_stock_for_slot" and warning["params"]["location"].startswith("Test Clinic")
    assert warning["message"].startswith(f"No {unstocked} doses are on hand at Test Clinic")
    assert warning["message"].endswith(f"for {warning['params']['date']}")

    for recipient_id in await new_recipients(sessions, 2):
        booked = await book(api, manager, recipient_id, seats["id"])
        assert booked.status_code == 201, booked.text

    demand: dict[str, Any] = (await api.get("/inventory/demand?days=3", headers=manager)).json()
    rows = {p["product_code"]: p for p in demand["products"]}
    assert rows[stocked]["on_hand"] == 1
    assert sum(day["booked"] for day in rows[stocked]["days"]) == 2
    assert rows[stocked]["days"][-1] | {"date": None} == {
        "date": None,
        "booked": rows[stocked]["days"][-1]["booked"],
        "booked_to_date": 2,
        "stock": 1,
        "short_by": 1,
    }
    (warning,) = [w for w in demand["warnings"] if w["product_code"] == stocked]
    assert warning["code"] == "bookings_exceed_stock"
    short_day = rows[stocked]["days"][[d["short_by"] > 0 for d in rows[stocked]["days"]].index(True)]
    assert warning["params"] == {
        "product": stocked,
        "booked": 2,
        "date": short_day["date"],
        "stock": 1,
        "short": 1,
    }
    assert warning["message"] == (
        f"{stocked}: 2 booked through {short_day['date']} but only 1 doses on hand (short by 1)"
    )
    assert not any(w["product_code"] == unstocked for w in demand["warnings"])

    # The pages say the same from the code, in the reader's language and date format, and name
    # the product (tests.journeys.new_product names it "Testvax <last 4>").
    stocked_name, unstocked_name = f"Testvax {stocked[-4:]}", f"Testvax {unstocked[-4:]}"
    page = await api.get("/portal/inventory", headers={**manager, "Accept": "text/html"})
    shown = shown_warning(page.text, "bookings_exceed_stock")
    day = date.fromisoformat(short_day["date"])
    assert shown == (
        f"{stocked_name}: 2 booked through {format_date(day, 'long', locale='en_US')} "
        "but only 1 doses on hand (short by 1)"
    )
    spanish = await api.get(
        "/portal/appointments", headers={**manager, "Accept": "text/html", "Cookie": "cvms_lang=es"}
    )
    shown = shown_warning(spanish.text, "bookings_exceed_stock")
    assert shown.startswith(
        f"{stocked_name}: 2 reservadas hasta el {format_date(day, 'long', locale='es_US')},"
    )
    assert shown.endswith("pero solo hay 1 dosis disponibles (faltan 1)")

    # Publishing through the slots page shows the new slot's warnings on the page it returns to.
    nonce, token = "inventory-test-nonce", manager["Authorization"].split(" ", 1)[1]
    tomorrow = date.fromisoformat(short_day["date"]).toordinal() + 1
    published = await api.post(
        "/portal/slots",
        data={
            CSRF_FIELD: csrf_token(settings.secret_key, nonce, token),
            "day": date.fromordinal(tomorrow).isoformat(),
            "start": "09:00",
            "end": "10:00",
            "capacity": "4",
            "product_code": unstocked,
        },
        headers={**manager, "Cookie": f"{CSRF_COOKIE}={nonce}"},
    )
    assert published.status_code == 303, published.text
    assert "notice=slot_published_low_stock&slot=" in published.headers["location"]
    spanish = await api.get(
        published.headers["location"], headers={**manager, "Accept": "text/html", "Cookie": "cvms_lang=es"}
    )
    shown = shown_warning(spanish.text, "no_stock_for_slot")
    assert shown.startswith(f"No hay dosis de {unstocked_name} disponibles en Test Clinic")
    assert shown.endswith(f" para el {format_date(date.fromordinal(tomorrow), 'long', locale='es_US')}")


async def test_the_audit_recomputes_each_lot_from_its_events_and_flags_a_hand_edited_total(api, sessions):
    site = await new_site(sessions, scheduling=False)
    manager = await headers_for(api, site.manager)
    lot = await receive_lot(api, manager, await new_product(sessions), 7)
    assert (await api.get("/inventory/audit", headers=manager)).json()["consistent"]
    async with transaction(sessions) as db:
        await db.execute(update(InventoryLot).where(InventoryLot.id == lot["id"]).values(on_hand=70))
    audit = (await api.get("/inventory/audit", headers=manager)).json()
    assert not audit["consistent"]
    assert [(row["on_hand"], row["from_events"]) for row in audit["lots"]] == [(70, 7)]
