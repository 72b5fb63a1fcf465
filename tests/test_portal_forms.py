"""Portal forms posted over HTTP as their pages send them: the dose form posted twice documents
one dose; a bad value in the slot, lot, dose-edit and dose forms shows the form again with the
message beside the field, keeps what was typed, and changes nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from records.db import transaction
from records.journeys import Dose
from records.products import InventoryLot
from records.scheduling import Slot
from tests.conftest import login
from tests.journeys import add_lot, document, new_product, new_recipient, portal_form, unique

HTML = {"Accept": "text/html"}


async def _lot(sessions: Any, lot_number: str) -> InventoryLot:
    async with transaction(sessions) as db:
        return (
            await db.execute(select(InventoryLot).where(InventoryLot.lot_number == lot_number))
        ).scalar_one()


async def _doses_of(sessions: Any, recipient_id: int) -> list[Dose]:
    async with transaction(sessions) as db:
        return list((await db.execute(select(Dose).where(Dose.recipient_id == recipient_id))).scalars())


def _form_key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page)
    assert found, "the dose form carries no idempotency key"
    return found.group(1)


def _beside(page: str, field: str, message: str) -> None:
    """The field is marked invalid and the message is its error, right under it."""
    assert f'aria-describedby="e-{field}"' in page, f"{field} is not marked invalid"
    found = re.search(rf'<p id="e-{field}" class="error">([^<]*)</p>', page)
    assert found and found.group(1) == message, (field, found and found.group(1))


async def test_the_same_dose_form_posted_twice_documents_one_dose(api, sessions, settings):
    provider = await login(api, "provider")
    # Dose 1 of 2 (the series' workflow answers the retry), and a one-dose product whose dose
    # completes the series (its workflow closes; the retry must not start a second series).
    for doses_in_series in (2, 1):
        product = await new_product(sessions, doses=doses_in_series)
        lot = await _lot(sessions, await add_lot(sessions, product, doses=10))
        recipient = await new_recipient(sessions)
        page = await api.get(f"/portal/recipients/{recipient.id}", headers={**provider, **HTML})
        key = _form_key(page.text)
        form = portal_form(
            settings,
            provider,
            lot_id=lot.id,
            injection_site="left_deltoid",
            route="intramuscular",
            administered_by="Pat Nurse",
            given_at="",
            idempotency_key=key,
        )
        first = await api.post(f"/portal/recipients/{recipient.id}/doses", **form)
        again = await api.post(f"/portal/recipients/{recipient.id}/doses", **form)  # a double click
        for answer in (first, again):
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"].endswith("?notice=dose_documented")
        [dose] = await _doses_of(sessions, recipient.id)
        assert (dose.lot_number, dose.idempotency_key) == (lot.lot_number, key)
        assert (await _lot(sessions, lot.lot_number)).on_hand == 9
        shown = await api.get(f"/portal/recipients/{recipient.id}", headers={**provider, **HTML})
        assert _form_key(shown.text) != key  # the next dose is a new form

    # Posted twice at once (a browser retrying while the first is still running): one dose.
    product = await new_product(sessions, doses=1)
    lot = await _lot(sessions, await add_lot(sessions, product, doses=10))
    recipient = await new_recipient(sessions)
    form = portal_form(
        settings,
        provider,
        lot_id=lot.id,
        injection_site="right_deltoid",
        route="intramuscular",
        administered_by="Pat Nurse",
        idempotency_key=unique("form-"),
    )
    answers = await asyncio.gather(
        *(api.post(f"/portal/recipients/{recipient.id}/doses", **form) for _ in range(2))
    )
    assert [a.status_code for a in answers] == [303, 303], [a.text for a in answers]
    assert len(await _doses_of(sessions, recipient.id)) == 1
    assert (await _lot(sessions, lot.lot_number)).on_hand == 9


async def test_a_bad_value_in_the_dose_form_is_said_beside_the_field(api, sessions, settings):
    provider = await login(api, "provider")
    product = await new_product(sessions)
    lot = await _lot(sessions, await add_lot(sessions, product, doses=10))
    recipient = await new_recipient(sessions)
    refused = await api.post(
        f"/portal/recipients/{recipient.id}/doses",
        **portal_form(
            settings,
            provider,
            lang="es",
            lot_id=lot.id,
            injection_site="elbow",
            route="intramuscular",
            administered_by="Pat Nurse",
            given_at="yesterday-ish",
            idempotency_key=unique(),
        ),
    )
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    _beside(refused.text, "injection_site", "Elija una de las opciones.")
    _beside(refused.text, "given_at", "Escriba una fecha y una hora.")
    assert 'value="yesterday-ish"' in refused.text and 'value="Pat Nurse"' in refused.text
    assert await _doses_of(sessions, recipient.id) == []


async def test_a_bad_value_in_the_slot_form_is_said_beside_the_field(api, sessions, settings):
    manager = await login(api, "manager")
    product = await new_product(sessions)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    good = {"day": tomorrow, "start": "09:00", "end": "10:00", "capacity": "4", "product_code": product}

    async def slots_of_product() -> int:
        async with transaction(sessions) as db:
            return (
                await db.execute(select(func.count()).select_from(Slot).where(Slot.product_code == product))
            ).scalar_one()

    backwards = await api.post(
        "/portal/slots", **portal_form(settings, manager, **{**good, "start": "11:00", "end": "10:30"})
    )
    assert backwards.status_code == 422 and backwards.headers["content-type"].startswith("text/html")
    _beside(backwards.text, "end", "The end must be after the start.")
    assert 'value="11:00"' in backwards.text and 'value="10:30"' in backwards.text

    several = await api.post(
        "/portal/slots",
        **portal_form(settings, manager, lang="es", **{**good, "day": "someday", "capacity": "0"}),
    )
    assert several.status_code == 422
    _beside(several.text, "day", "Escriba una fecha.")
    _beside(several.text, "capacity", "Escriba un número entero de plazas, 1 como mínimo.")
    assert 'value="someday"' in several.text

    past = (date.today() - timedelta(days=2)).isoformat()
    over = await api.post("/portal/slots", **portal_form(settings, manager, **{**good, "day": past}))
    assert over.status_code == 422
    _beside(over.text, "end", "this slot would already be over")
    assert await slots_of_product() == 0

    published = await api.post("/portal/slots", **portal_form(settings, manager, **good))
    assert published.status_code == 303, published.text
    assert await slots_of_product() == 1


async def test_a_bad_value_in_the_lot_form_is_said_beside_the_field(api, sessions, settings):
    manager = await login(api, "manager")
    product = await new_product(sessions)
    lot_number = unique("PF-").upper()
    no_date = await api.post(
        "/portal/lots",
        **portal_form(settings, manager, product_code=product, lot_number=lot_number, expires_on="soon"),
    )
    assert no_date.status_code == 422 and no_date.headers["content-type"].startswith("text/html")
    _beside(no_date.text, "expires_on", "Enter a date.")
    assert f'value="{lot_number}"' in no_date.text
    assert (await api.get("/lots", headers=manager)).status_code == 200
    async with transaction(sessions) as db:
        assert (
            await db.execute(select(InventoryLot).where(InventoryLot.lot_number == lot_number))
        ).scalar_one_or_none() is None

    added = await api.post(
        "/portal/lots",
        **portal_form(
            settings, manager, product_code=product, lot_number=lot_number, expires_on="2031-05-31"
        ),
    )
    assert added.status_code == 303, added.text
    twice = await api.post(
        "/portal/lots",
        **portal_form(
            settings, manager, lang="es", product_code=product, lot_number=lot_number, expires_on="2031-06-30"
        ),
    )
    assert twice.status_code == 409
    _beside(twice.text, "lot_number", "Este lote ya está registrado en este sitio.")
    assert (await _lot(sessions, lot_number)).expires_on == date(2031, 5, 31)


async def test_a_bad_value_in_the_dose_edit_form_is_said_beside_the_field(api, sessions, settings):
    provider = await login(api, "provider")
    product = await new_product(sessions)
    lot_number = await add_lot(sessions, product, doses=10)
    recipient = await new_recipient(sessions)
    documented = await document(api, provider, recipient.id, product=product, lot=lot_number)
    assert documented.status_code == 201, documented.text
    dose_id = documented.json()["id"]

    no_reason = await api.post(
        f"/portal/doses/{dose_id}/edit",
        **portal_form(settings, provider, lot_number=lot_number, injection_site="right_deltoid", reason=""),
    )
    assert no_reason.status_code == 422 and no_reason.headers["content-type"].startswith("text/html")
    _beside(no_reason.text, "reason", "Required.")
    assert '<option value="right_deltoid" selected>' in no_reason.text  # what was chosen stays

    bad_time = await api.post(
        f"/portal/doses/{dose_id}/edit",
        **portal_form(settings, provider, lang="es", given_at="not a time", reason="typo"),
    )
    assert bad_time.status_code == 422
    _beside(bad_time.text, "given_at", "Escriba una fecha y una hora.")

    nothing = await api.post(
        f"/portal/doses/{dose_id}/edit",
        **portal_form(settings, provider, lot_number=lot_number, reason="no change"),
    )
    assert nothing.status_code == 422 and "Change at least one field." in nothing.text

    async with transaction(sessions) as db:
        dose = await db.get(Dose, dose_id)
        assert dose.injection_site == "left_deltoid"
    fixed = await api.post(
        f"/portal/doses/{dose_id}/edit",
        **portal_form(settings, provider, injection_site="right_deltoid", reason="entered the wrong arm"),
    )
    assert fixed.status_code == 303, fixed.text
    async with transaction(sessions) as db:
        assert (await db.get(Dose, dose_id)).injection_site == "right_deltoid"
