"""The wrong vaccine in one click (issue 17): the dose form offers the booked (or the series')
product only, its lot that expires first as the default, and the API refuses a dose of another
product than the booked one, whatever the form offered. A walk-in chooses the product itself."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from domain.dose_rules import RuleViolation, check_next_product
from records.db import transaction, utcnow
from records.products import InventoryLot
from records.scheduling import Appointment
from tests.conftest import login
from tests.journeys import add_lot, book, document, location_id, new_recipient, portal_form, publish_slot

PFIZER_LOT = "PFI-WAKE-01-001"
JANSSEN_LOT = "JAN-WAKE-01-001"


async def booked_for_pfizer(api, sessions) -> tuple[int, int]:
    """A recipient booked for Pfizer dose 1 at WAKE-01: (recipient id, appointment id)."""
    manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=600, length=600, product="pfizer")
    booked = await book(api, scheduler, recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    return recipient.id, booked.json()["id"]


async def appointment_status(sessions, appointment_id: int) -> str:
    async with transaction(sessions) as db:
        return (await db.get(Appointment, appointment_id)).status


def local_today():
    """The day at WAKE-01 (lots expire on the location's day, not the test machine's)."""
    return utcnow().astimezone(ZoneInfo("America/New_York")).date()


def lot_options(html: str) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of each option of the dose form's lot select."""
    select_html = html.split('id="f-lot_id"', 1)[1].split("</select>", 1)[0]
    return [
        (value, re.sub(r"\s+", " ", text).strip(), " selected" in attrs)
        for value, attrs, text in re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', select_html)
    ]


async def test_a_dose_of_another_product_than_the_booked_one_is_refused(api, sessions):
    provider = await login(api, "provider")
    recipient_id, appointment_id = await booked_for_pfizer(api, sessions)

    wrong = await document(api, provider, recipient_id, product="janssen", lot=JANSSEN_LOT)
    assert wrong.status_code == 409, wrong.text
    assert wrong.json()["code"] == "product_not_booked"
    assert "booked for pfizer" in wrong.json()["detail"]
    assert (await api.get(f"/recipients/{recipient_id}/doses", headers=provider)).json() == []
    assert await appointment_status(sessions, appointment_id) == "booked"

    right = await document(api, provider, recipient_id, product="pfizer", lot=PFIZER_LOT)
    assert right.status_code == 201, right.text
    assert await appointment_status(sessions, appointment_id) == "completed"


async def test_the_dose_form_offers_the_booked_products_lot_that_expires_first(api, sessions):
    provider = await login(api, "provider")
    recipient_id, _ = await booked_for_pfizer(api, sessions)
    soonest = await add_lot(sessions, "pfizer", expires_on=local_today() + timedelta(days=1))
    expired = await add_lot(sessions, "pfizer", expires_on=local_today() - timedelta(days=1))

    page = await api.get(f"/portal/recipients/{recipient_id}", headers=provider)
    assert page.status_code == 200, page.text
    options = lot_options(page.text)
    assert options and all("Pfizer" in text for _v, text, _s in options), options
    assert not any(expired in text for _v, text, _s in options)
    [chosen] = [text for _v, text, selected in options if selected]
    wake = await location_id(sessions, "WAKE-01")
    async with transaction(sessions) as db:
        first = (
            await db.execute(
                select(InventoryLot.lot_number)
                .where(
                    InventoryLot.location_id == wake,
                    InventoryLot.product_code == "pfizer",
                    InventoryLot.expires_on >= local_today(),
                    InventoryLot.on_hand > 0,
                )
                .order_by(InventoryLot.expires_on, InventoryLot.lot_number)
                .limit(1)
            )
        ).scalar_one()
    assert chosen.startswith(first) and first == soonest, (chosen, first, soonest)


async def test_a_walk_in_chooses_the_product_itself(api, sessions):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    page = await api.get(f"/portal/recipients/{recipient.id}", headers=provider)
    options = lot_options(page.text)
    [(value, _text, selected)] = [o for o in options if o[2]]
    assert value == "" and selected  # no lot (and so no product) is chosen for them
    assert {"Pfizer" in t for _v, t, _s in options[1:]} == {True, False}  # several products offered


async def test_the_portal_form_cannot_document_another_product_than_the_booked_one(api, sessions, settings):
    provider = await login(api, "provider")
    recipient_id, appointment_id = await booked_for_pfizer(api, sessions)
    async with transaction(sessions) as db:
        janssen = (
            await db.execute(select(InventoryLot.id).where(InventoryLot.lot_number == JANSSEN_LOT))
        ).scalar_one()
    posted = await api.post(
        f"/portal/recipients/{recipient_id}/doses",
        **portal_form(
            settings,
            provider,
            lot_id=str(janssen),
            injection_site="left_deltoid",
            route="intramuscular",
            administered_by="Nurse",
            idempotency_key="wrong-product-form",
        ),
    )
    assert posted.status_code == 409, posted.text[:500]
    assert "booked for pfizer" in posted.text
    assert (await api.get(f"/recipients/{recipient_id}/doses", headers=provider)).json() == []
    assert await appointment_status(sessions, appointment_id) == "booked"


async def test_an_expired_lot_is_refused(api, sessions):
    provider = await login(api, "provider")
    recipient_id, _ = await booked_for_pfizer(api, sessions)
    expired = await add_lot(sessions, "pfizer", expires_on=local_today() - timedelta(days=1))
    refused = await document(api, provider, recipient_id, product="pfizer", lot=expired)
    assert refused.status_code == 409 and refused.json()["code"] == "lot_expired", refused.text


def test_the_pure_rule_names_why_a_product_is_refused():
    check_next_product(None, None, "janssen")  # a walk-in starting a series: any product
    check_next_product("pfizer", "pfizer", "pfizer")
    for series, booked, code in ((None, "pfizer", "product_not_booked"), ("pfizer", None, "wrong_product")):
        with pytest.raises(RuleViolation) as refused:
            check_next_product(series, booked, "janssen")
        assert refused.value.code == code and refused.value.kind == "conflict"
