"""The dose series end to end in the browser, against the real stack: a provider registers a
recipient, a scheduler books dose 1, the recipient's emailed link opens the appointment page,
a provider checks in and documents the dose, the second-dose link books dose 2, and the
record PDF downloads with both doses and the SMART Health Card QR code (its text checked in
English and Spanish, its QR code read back and verified)."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader
from sqlalchemy import select

from domain.journey_messages import LINK_RECORD
from domain.security import sign_link
from records.db import transaction
from records.recipients import Recipient
from tests.browser_fixtures import screenshot
from tests.conftest import login
from tests.journeys import add_lot, document, link_token, mail, new_recipient, publish_slot
from tests.portable_proof import parse_fhir_bundle, qr_in_pdf, uri_to_token, verify_card
from tests.test_portal_pages import log_in, register

PFIZER_LOT = "PFI-WAKE-01-001"  # seeded demo stock at WAKE-01


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def recipient_id_by_email(sessions, email: str) -> int:
    async with transaction(sessions) as db:
        return (await db.execute(select(Recipient.id).where(Recipient.email == email))).scalar_one()


async def check_in_and_document(page, recipient_id: int, site: str) -> None:
    await page.goto(f"/portal/recipients/{recipient_id}")
    await page.get_by_role("button", name="Check in").click()
    await page.get_by_text("The recipient is checked in.").wait_for()
    lot = await page.locator("#f-lot_id option", has_text=PFIZER_LOT).get_attribute("value")
    await page.locator("#f-lot_id").select_option(lot)
    await page.locator("#f-injection_site").select_option(site)
    await page.get_by_role("button", name="Document dose").click()
    await page.get_by_text("The dose is documented.").wait_for()


async def test_a_whole_series_in_the_browser_with_the_record_pdf(browser, live_server, api, smtp, sessions):
    email = f"serie.{uuid.uuid4().hex[:8]}@example.org"
    last = f"Serrano{uuid.uuid4().hex[:5]}"
    manager = await login(api, "manager")
    slot1 = await publish_slot(api, manager, start_in=20, length=120)

    staff = await browser.new_context(base_url=live_server, locale="en-US")
    staff.set_default_timeout(20_000)
    provider = await staff.new_page()
    await log_in(provider, "provider")
    await register(provider, "Marta", last, email=email, phone="919-555-0177")
    await provider.get_by_text("The recipient is registered.").wait_for()
    recipient_id = await recipient_id_by_email(sessions, email)

    scheduling = await browser.new_context(base_url=live_server, locale="en-US")
    scheduling.set_default_timeout(20_000)
    scheduler = await scheduling.new_page()
    await log_in(scheduler, "scheduler")
    await scheduler.goto(f"/portal/recipients/{recipient_id}")
    await scheduler.locator(f"#book-slot-{slot1['id']}").check()  # other tests' slots are open too
    await scheduler.get_by_role("button", name="Hold this time").click()
    await scheduler.get_by_text("The seat is held until").wait_for()
    await scheduler.get_by_role("button", name="Book", exact=True).click()
    await scheduler.get_by_text("The appointment is booked.").wait_for()
    await screenshot(scheduler, "portal-recipient-booked")
    # Booked only: the day's list pages, and other tests' finished appointments of today come first.
    await scheduler.goto("/portal/appointments?status=booked")
    await scheduler.get_by_role("link", name=f"Marta {last}").wait_for()
    await screenshot(scheduler, "portal-appointments")

    # The recipient opens the link in the confirmation email (their own browser, no login).
    confirmed = await mail(smtp, email, "Your vaccination appointment is confirmed: dose 1")
    recipient_browser = await browser.new_context(base_url=live_server, locale="en-US")
    recipient_browser.set_default_timeout(20_000)
    recipient = await recipient_browser.new_page()
    await recipient.goto(f"/r/appointments/{link_token(confirmed, 'appointments')}")
    await recipient.get_by_role("heading", name="My appointment").wait_for()
    await recipient.locator("dl.facts").get_by_text("Wake County Public Health Center").wait_for()
    await screenshot(recipient, "recipient-appointment")

    await check_in_and_document(provider, recipient_id, "left_deltoid")
    await screenshot(provider, "portal-dose-documented")

    # Dose 2: the "due" email's link books it, in the window (21 "days" of 2 s).
    due = await mail(smtp, email, "Your dose 2 is due", timeout=120)
    slot2 = await publish_slot(api, manager, start_in=8, length=120)
    await recipient.goto(f"/r/book/{link_token(due, 'book')}")
    await recipient.get_by_role("heading", name="Book dose 2").wait_for()
    await screenshot(recipient, "recipient-book-dose-2")
    await recipient.locator(f"#slot-{slot2['id']}").check()
    await recipient.get_by_role("button", name="Choose this time").click()
    await recipient.get_by_text("Your seat is held until").wait_for()
    await recipient.get_by_role("button", name="Book this time").click()
    await recipient.get_by_text("Your appointment is booked.").wait_for()

    await check_in_and_document(provider, recipient_id, "right_deltoid")
    async with provider.expect_download() as download_info:
        await provider.get_by_role("link", name="Vaccination record (PDF)").click()
    download = await download_info.value
    content = open(await download.path(), "rb").read()
    text = pdf_text(content)
    assert "Vaccination record" in text and f"Marta {last}" in text
    assert text.replace("\n", "").count(PFIZER_LOT) == 2 and "Dose 1" in text and "Dose 2" in text
    assert "Pfizer-BioNTech" in text

    complete = await mail(smtp, email, "Your vaccination series is complete")
    await recipient.goto(f"/r/record/{link_token(complete, 'record')}")
    await recipient.get_by_role("heading", name="My vaccination record").wait_for()
    await screenshot(recipient, "recipient-record")
    await staff.close()
    await scheduling.close()
    await recipient_browser.close()


async def test_record_pdf_and_registration_form_read_in_both_languages(api, sessions, settings):
    """The record PDF (portal and signed link) carries the SMART Health Card QR code: read back
    from the PDF's image, it verifies against the public JWKS and names the documented dose."""
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions, language="es", first_name="Zoë")
    lot = await add_lot(sessions, "pfizer")
    given = await document(api, provider, recipient.id, product="pfizer", lot=lot)
    assert given.status_code == 201, given.text
    jwks = (await api.get("/.well-known/jwks.json")).json()

    def card_of(content: bytes) -> dict:
        _, payload = verify_card(uri_to_token(qr_in_pdf(content)), jwks)
        assert payload["iss"] == settings.public_base_url
        patient, immunization = (
            e.resource for e in parse_fhir_bundle(payload["vc"]["credentialSubject"]["fhirBundle"]).entry
        )
        assert patient.name[0].given == ["Zoë"] and patient.name[0].family == recipient.last_name
        assert immunization.lotNumber == lot and immunization.vaccineCode.coding[0].code == "208"
        return payload

    english = await api.get(f"/portal/recipients/{recipient.id}/record.pdf?lang=en", headers=provider)
    assert english.status_code == 200 and english.headers["content-type"] == "application/pdf"
    text = pdf_text(english.content)
    assert "Vaccination record" in text and f"Zoë {recipient.last_name}" in text and lot in text
    assert "SMART Health Card" in text and "Scan this code with a SMART Health Card verifier app" in text
    card_of(english.content)

    spanish = await api.get(f"/portal/recipients/{recipient.id}/record.pdf?lang=es", headers=provider)
    text = pdf_text(spanish.content)
    assert "Registro de vacunación" in text and "Escanee este código" in text
    card_of(spanish.content)

    # The recipient's own signed link serves the same record, in their language (Spanish).
    token = sign_link(settings.secret_key, LINK_RECORD, {"r": recipient.id, "j": given.json()["journey_id"]})
    linked = await api.get(f"/r/record/{token}/record.pdf")
    assert linked.status_code == 200 and "Escanee este código" in pdf_text(linked.content)
    card_of(linked.content)

    form = await api.get(f"/portal/recipients/{recipient.id}/registration-form.pdf?lang=en", headers=provider)
    assert "Recipient Registration and Vaccine Administration" in pdf_text(form.content)
    form = await api.get(f"/r/record/{token}/registration-form.pdf")
    assert "Registro del receptor y administración de la vacuna" in pdf_text(form.content)

    # Without a documented dose there is no card to show.
    nobody = await new_recipient(sessions)
    empty = await api.get(f"/portal/recipients/{nobody.id}/record.pdf?lang=en", headers=provider)
    assert "No dose is recorded yet." in pdf_text(empty.content)
    assert "SMART Health Card" not in pdf_text(empty.content)
    assert not any(page.images for page in PdfReader(io.BytesIO(empty.content)).pages)


async def test_provider_documents_a_walk_in_dose_edits_it_and_removes_it_with_a_reason(page, sessions):
    email = f"walkin.{uuid.uuid4().hex[:8]}@example.org"
    await log_in(page, "provider")
    await register(page, "Wanda", f"Walkin{uuid.uuid4().hex[:5]}", email=email)
    await page.get_by_text("The recipient is registered.").wait_for()
    recipient_id = await recipient_id_by_email(sessions, email)
    await page.goto(f"/portal/recipients/{recipient_id}")
    lot = await page.locator("#f-lot_id option", has_text=PFIZER_LOT).get_attribute("value")
    await page.locator("#f-lot_id").select_option(lot)
    await page.get_by_role("button", name="Document dose").click()
    await page.get_by_text("The dose is documented.").wait_for()

    await page.get_by_role("link", name="Edit", exact=True).click()
    await page.locator("#f-injection_site").select_option("right_thigh")
    await page.locator("#f-reason").fill("documented the wrong arm")
    await page.get_by_role("button", name="Save changes").click()
    await page.get_by_text("The dose is corrected.").wait_for()
    await page.get_by_text("Right thigh, Intramuscular").wait_for()

    await page.get_by_role("button", name="Remove dose 1 in error").click()
    await page.get_by_label("Reason for removing the dose").fill("entered for the wrong person")
    await page.get_by_role("button", name="Remove in error").click()
    await page.get_by_text("The dose is removed as entered in error").wait_for()
    await page.get_by_text("entered for the wrong person").wait_for()
    await screenshot(page, "portal-dose-removed")
