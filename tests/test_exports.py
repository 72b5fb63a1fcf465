"""Portable proof and registry export on the real stack: doses documented through the API,
then the SMART Health Card, the JWKS, FHIR and VXU read back with independent libraries."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

from domain.journey_messages import LINK_RECORD
from domain.security import sign_link
from records.db import transaction, utcnow
from services.exports import health_card_for_recipient
from tests.conftest import login
from tests.journeys import add_lot, document, location_id, new_recipient
from tests.portable_proof import (
    parse_fhir_bundle,
    parse_vxu,
    scan_qr,
    split_vxu_batch,
    uri_to_token,
    verify_card,
)


async def _documented(api: Any, sessions: Any, headers: dict, *, location: str = "WAKE-01"):
    """A new recipient with a Pfizer dose 1 documented at `location` (walk-in)."""
    recipient = await new_recipient(sessions, first_name="Zoë")
    lot = await add_lot(sessions, "pfizer", location=location)
    response = await document(api, headers, recipient.id, product="pfizer", lot=lot)
    assert response.status_code == 201, response.text
    return recipient, response.json()


async def _at(api: Any, sessions: Any, login_name: str, code: str) -> dict[str, str]:
    headers = await login(api, login_name)
    switched = await api.post(
        "/auth/location", json={"location_id": await location_id(sessions, code)}, headers=headers
    )
    assert switched.status_code == 200, switched.text
    return headers


async def test_recipients_health_card_verifies_against_the_public_jwks(api, sessions, settings):
    provider = await login(api, "provider")
    recipient, dose = await _documented(api, sessions, provider)

    keys = await api.get("/.well-known/jwks.json")  # no login
    assert keys.status_code == 200
    assert keys.headers["access-control-allow-origin"] == "*"
    jwks = keys.json()

    readonly = await login(api, "readonly")
    card_file = await api.get(f"/recipients/{recipient.id}/health-card", headers=readonly)
    assert card_file.status_code == 200, card_file.text
    assert card_file.headers["content-type"].startswith("application/smart-health-card")
    (token,) = card_file.json()["verifiableCredential"]
    _, payload = verify_card(token, jwks)
    assert payload["iss"] == settings.public_base_url
    bundle = parse_fhir_bundle(payload["vc"]["credentialSubject"]["fhirBundle"])
    patient, immunization = (entry.resource for entry in bundle.entry)
    assert patient.name[0].given == ["Zoë"] and patient.name[0].family == recipient.last_name
    assert immunization.vaccineCode.coding[0].code == "208"
    assert immunization.lotNumber == dose["lot_number"]
    assert immunization.performer[0].actor.display == "Wake County Public Health Center"

    qr = await api.get(f"/recipients/{recipient.id}/health-card.png", headers=readonly)
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    verify_card(uri_to_token(scan_qr(qr.content)), jwks)


async def test_health_card_for_the_record_pdf_leaves_out_removed_doses(api, sessions, settings):
    provider = await login(api, "provider")
    recipient, dose = await _documented(api, sessions, provider)
    nobody = await new_recipient(sessions)
    jwks = (await api.get("/.well-known/jwks.json")).json()

    async with transaction(sessions) as db:
        card = await health_card_for_recipient(db, settings, recipient.id, journey_id=dose["journey_id"])
        assert await health_card_for_recipient(db, settings, nobody.id) is None
    assert card is not None
    _, payload = verify_card(uri_to_token(scan_qr(card.qr_png)), jwks)
    assert len(payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]) == 2

    removed = await api.post(f"/doses/{dose['id']}/remove", json={"reason": "wrong person"}, headers=provider)
    assert removed.status_code == 200, removed.text
    async with transaction(sessions) as db:
        assert await health_card_for_recipient(db, settings, recipient.id) is None
    no_card = await api.get(f"/recipients/{recipient.id}/health-card", headers=provider)
    assert no_card.status_code == 409 and no_card.json()["code"] == "no_documented_doses"


async def test_one_recipients_export_parses_as_fhir_and_vxu_at_any_location(api, sessions, settings):
    provider = await login(api, "provider")
    recipient, dose = await _documented(api, sessions, provider)
    # Recipients are shared: a reader elsewhere exports the dose given at WAKE-01.
    elsewhere = await _at(api, sessions, "twosites", "BUNC-02")

    fhir = await api.get(f"/recipients/{recipient.id}/export", params={"format": "fhir"}, headers=elsewhere)
    assert fhir.status_code == 200, fhir.text
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    bundle = parse_fhir_bundle(fhir.content)
    patient, immunization = (entry.resource for entry in bundle.entry)
    assert patient.identifier[0].value == str(recipient.id)
    assert immunization.identifier[0].value == str(dose["id"])
    assert immunization.status == "completed"
    assert immunization.vaccineCode.coding[0].code == "208"
    assert immunization.lotNumber == dose["lot_number"]
    assert immunization.protocolApplied[0].doseNumberPositiveInt == 1
    assert immunization.protocolApplied[0].seriesDosesPositiveInt == 2

    vxu = await api.get(f"/recipients/{recipient.id}/export", params={"format": "vxu"}, headers=elsewhere)
    assert vxu.status_code == 200, vxu.text
    _, (message_text,) = split_vxu_batch(vxu.text)
    message = parse_vxu(message_text)
    assert message.PID.PID_3.CX_1.value == str(recipient.id)
    rxa = message.VXU_V04_ORDER.RXA
    assert rxa.RXA_5.CE_1.value == "208" and rxa.RXA_15.value == dose["lot_number"]
    assert rxa.RXA_11.to_er7() == "^^^WAKE-01"

    bad = await api.get(f"/recipients/{recipient.id}/export", params={"format": "csv"}, headers=elsewhere)
    assert bad.status_code == 422


async def test_doses_since_a_time_are_the_managers_export_of_their_location(api, sessions, settings):
    manager = await login(api, "manager")
    before, _ = await _documented(api, sessions, manager)
    await asyncio.sleep(0.01)  # updated_at has microseconds; keep "since" strictly after the first dose
    since = utcnow()
    recipient, dose = await _documented(api, sessions, manager)
    elsewhere = await _at(api, sessions, "twosites", "BUNC-02")
    other_location, _ = await _documented(api, sessions, elsewhere, location="BUNC-02")

    params = {"since": since.isoformat(), "format": "fhir"}
    fhir = await api.get("/exports/doses", params=params, headers=manager)
    assert fhir.status_code == 200, fhir.text
    bundle = parse_fhir_bundle(fhir.content)
    patients = {
        e.resource.identifier[0].value for e in bundle.entry if e.resource.__resource_type__ == "Patient"
    }
    assert str(recipient.id) in patients
    assert str(before.id) not in patients and str(other_location.id) not in patients

    removed = await api.post(f"/doses/{dose['id']}/remove", json={"reason": "entered twice"}, headers=manager)
    assert removed.status_code == 200, removed.text
    vxu = await api.get("/exports/doses", params={**params, "format": "vxu"}, headers=manager)
    assert vxu.status_code == 200, vxu.text
    envelope, messages = split_vxu_batch(vxu.text)
    assert envelope == ["FHS", "BHS", "BTS", "FTS"]
    ours = [m for m in map(parse_vxu, messages) if m.PID.PID_3.CX_1.value == str(recipient.id)]
    assert [m.VXU_V04_ORDER.RXA.RXA_21.value for m in ours] == ["D"]

    provider = await login(api, "provider")
    assert (await api.get("/exports/doses", params=params, headers=provider)).status_code == 403
    naive = await api.get("/exports/doses", params={"since": "2026-01-01T00:00:00"}, headers=manager)
    assert naive.status_code == 422


async def test_cvms_export_command_writes_what_the_registry_reads(api, sessions, settings, tmp_path):
    provider = await login(api, "provider")
    since = utcnow() - timedelta(seconds=1)
    recipient, dose = await _documented(api, sessions, provider)
    env = {
        **os.environ,
        "CVMS_DATABASE_URL": settings.database_url,
        "CVMS_SECRET_KEY": settings.secret_key,
        "CVMS_PUBLIC_BASE_URL": settings.public_base_url,
    }
    command = [sys.executable, "-m", "worker.cli", "export"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=60)

    out = tmp_path / "since.hl7"
    since_run = await asyncio.to_thread(
        run, "--since", since.isoformat(), "--format", "vxu", "--location", "WAKE-01", "--output", str(out)
    )
    assert since_run.returncode == 0, since_run.stderr
    _, messages = split_vxu_batch(out.read_bytes().decode())  # keep the \r segment ends
    ids = {parse_vxu(m).PID.PID_3.CX_1.value for m in messages}
    assert str(recipient.id) in ids

    one = await asyncio.to_thread(run, "--recipient", str(recipient.id), "--format", "fhir")
    assert one.returncode == 0, one.stderr
    bundle = parse_fhir_bundle(one.stdout)
    assert [e.resource.identifier[0].value for e in bundle.entry] == [str(recipient.id), str(dose["id"])]
    assert json.loads(one.stdout)["type"] == "transaction"

    missing = await asyncio.to_thread(run, "--recipient", "2147483647")
    assert missing.returncode == 1 and "no recipient" in missing.stderr
    neither = await asyncio.to_thread(run)
    assert neither.returncode != 0


async def test_recipient_downloads_their_card_through_the_signed_record_link(api, sessions, settings):
    provider = await login(api, "provider")
    recipient, dose = await _documented(api, sessions, provider)
    jwks = (await api.get("/.well-known/jwks.json")).json()
    token = sign_link(settings.secret_key, LINK_RECORD, {"r": recipient.id, "j": dose["journey_id"]})

    card_file = await api.get(f"/r/record/{token}/health-card")  # no login: the link is the key
    assert card_file.status_code == 200, card_file.text
    (jws,) = card_file.json()["verifiableCredential"]
    _, payload = verify_card(jws, jwks)
    immunization = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]
    assert immunization["lotNumber"] == dose["lot_number"]
    qr = await api.get(f"/r/record/{token}/health-card.png")
    verify_card(uri_to_token(scan_qr(qr.content)), jwks)

    assert (await api.get(f"/r/record/{token[:-2]}xx/health-card")).status_code == 403
    other = sign_link(settings.secret_key, LINK_RECORD, {"r": recipient.id + 1, "j": dose["journey_id"]})
    assert (await api.get(f"/r/record/{other}/health-card.png")).status_code == 404


async def test_the_registration_form_wraps_between_words_never_inside_one(api, sessions, settings):
    """Read back with pypdf, each cell's words are whole: "Pfizer-BioNTech" and "Intramuscular"
    were cut in two ("Pfizer-BioNTe/ch") by columns narrower than the word."""
    from tests.test_portal_journey import pdf_text

    provider = await login(api, "provider")
    recipient, dose = await _documented(api, sessions, provider)
    expected = {
        "en": ["Pfizer-BioNTech", "Intramuscular", "Left deltoid", "Administered by", dose["lot_number"]],
        "es": [
            "Pfizer-BioNTech",
            "Intramuscular",
            "Deltoides izquierdo",
            "Administrada por",
            dose["lot_number"],
        ],
    }
    for lang, phrases in expected.items():
        form = await api.get(
            f"/portal/recipients/{recipient.id}/registration-form.pdf?lang={lang}", headers=provider
        )
        assert form.status_code == 200, form.text
        words = set(pdf_text(form.content).split())
        for phrase in phrases:
            for word in phrase.split():
                assert word in words, (lang, word, sorted(w for w in words if w[:4] == word[:4]))
