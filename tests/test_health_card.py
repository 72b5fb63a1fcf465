"""SMART Health Cards built from dose facts: signature, payload, QR code and the signing key."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from domain.dose_rules import DEFAULT_PRODUCTS
from domain.settings import Settings
from domain.signing_keys import derive_signing_key, load_signing_key
from notifications.health_card import HealthCardTooLarge, health_card, jwks, qr_code
from notifications.immunization import VACCINES
from tests.portable_proof import (
    CardRejected,
    b64url_decode,
    parse_fhir_bundle,
    rfc7638_thumbprint,
    sample_dose,
    sample_patient,
    scan_qr,
    uri_to_token,
    verify_card,
)

ISSUER = "https://cvms.example.org"
KEY = derive_signing_key("test-secret-for-health-cards")
ISSUED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def two_dose_card(**dose_changes):
    first = sample_dose(**dose_changes)
    second = sample_dose(
        **{**dose_changes, "id": 12, "dose_number": 2, "given_at": first.given_at + timedelta(21)}
    )
    return health_card(sample_patient(), [first, second], issuer=ISSUER, issued_at=ISSUED, key=KEY)


def test_health_card_signature_verifies_with_the_published_jwks():
    card = two_dose_card()
    header, payload = verify_card(card.token, jwks(KEY))
    assert header == {"alg": "ES256", "zip": "DEF", "kid": rfc7638_thumbprint(jwks(KEY)["keys"][0])}
    assert payload["iss"] == ISSUER
    assert payload["nbf"] == int(ISSUED.timestamp())


def test_jwks_publishes_only_the_public_key():
    (key,) = jwks(KEY)["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["use"] == "sig" and key["alg"] == "ES256"
    assert "d" not in key


def test_a_tampered_or_foreign_card_is_rejected():
    card = two_dose_card()
    header, payload, signature = card.token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(CardRejected):
        verify_card(f"{header}.{flipped}.{signature}", jwks(KEY))
    with pytest.raises(CardRejected):
        verify_card(card.token, jwks(derive_signing_key("another deployment's secret")))


def test_health_card_decodes_to_a_fhir_bundle_of_patient_and_immunizations():
    _, payload = verify_card(two_dose_card().token, jwks(KEY))
    assert payload["vc"]["type"][0] == "https://smarthealth.cards#health-card"
    subject = payload["vc"]["credentialSubject"]
    assert subject["fhirVersion"] == "4.0.1"
    bundle = parse_fhir_bundle(subject["fhirBundle"])
    assert bundle.type == "collection"
    patient, first, second = (entry.resource for entry in bundle.entry)
    assert patient.name[0].family == "Peña|Ruiz" and patient.name[0].given == ["María", "José"]
    assert str(patient.birthDate) == "1980-02-03"
    for immunization, when in ((first, "2026-11-01"), (second, "2026-11-22")):
        assert immunization.status == "completed"
        assert immunization.vaccineCode.coding[0].system == "http://hl7.org/fhir/sid/cvx"
        assert immunization.vaccineCode.coding[0].code == "208"
        assert immunization.patient.reference == "resource:0"
        assert str(immunization.occurrenceDateTime) == when
        assert immunization.lotNumber == "PFI-WAKE-01-001"
        assert immunization.performer[0].actor.display == "Wake County Health Dept"


def test_dose_removed_in_error_is_not_on_the_card():
    kept = sample_dose()
    removed = sample_dose(id=12, dose_number=2, removed=True)
    card = health_card(sample_patient(), [kept, removed], issuer=ISSUER, issued_at=ISSUED, key=KEY)
    _, payload = verify_card(card.token, jwks(KEY))
    entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    assert [e["resource"]["resourceType"] for e in entries] == ["Patient", "Immunization"]


def test_qr_code_scans_back_to_the_signed_card():
    card = two_dose_card()
    scanned = scan_qr(card.qr_png)
    assert scanned == card.uri
    assert uri_to_token(scanned) == card.token
    verify_card(uri_to_token(scanned), jwks(KEY))
    code = qr_code(card.uri)
    assert code.version <= 22 and code.error == "L"


def test_each_seeded_product_carries_its_cvx_code():
    expected = {"pfizer": "208", "moderna": "207", "novavax": "211", "janssen": "212"}
    assert {rule.code for rule in DEFAULT_PRODUCTS} <= set(VACCINES)
    for product, cvx in expected.items():
        card = health_card(
            sample_patient(), [sample_dose(product_code=product)], issuer=ISSUER, issued_at=ISSUED, key=KEY
        )
        _, payload = verify_card(card.token, jwks(KEY))
        immunization = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]
        assert immunization["vaccineCode"]["coding"][0]["code"] == cvx


def test_a_card_too_large_for_one_qr_code_is_refused():
    # Lot numbers that do not compress: the signed card outgrows a version 22 QR code.
    doses = [sample_dose(id=i, lot_number=hashlib.sha256(bytes([i])).hexdigest()[:40]) for i in range(30)]
    with pytest.raises(HealthCardTooLarge):
        health_card(sample_patient(), doses, issuer=ISSUER, issued_at=ISSUED, key=KEY)


def test_default_signing_key_is_derived_from_the_secret_key():
    assert (
        derive_signing_key("secret one 123456").thumbprint()
        == derive_signing_key("secret one 123456").thumbprint()
    )
    assert (
        derive_signing_key("secret one 123456").thumbprint()
        != derive_signing_key("secret two 123456").thumbprint()
    )
    settings = Settings(secret_key="secret one 123456")
    assert (
        settings.health_card_signing_key().thumbprint()
        == derive_signing_key("secret one 123456").thumbprint()
    )


def test_configured_signing_key_is_read_from_pem_text_or_a_file(tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path / "health-card-key.pem"
    path.write_text(pem)
    from_text = Settings(health_card_key=pem).health_card_signing_key()
    from_file = Settings(health_card_key=str(path)).health_card_signing_key()
    assert from_text.thumbprint() == from_file.thumbprint()
    public = private.public_key().public_numbers()
    assert b64url_decode(jwks(from_file)["keys"][0]["x"]) == public.x.to_bytes(32, "big")
    assert from_file.thumbprint() != load_signing_key(None, Settings().secret_key).thumbprint()


def test_a_signing_key_that_is_not_p256_fails_at_start_up(tmp_path):
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValidationError, match="P-256"):
        Settings(health_card_key=p384.decode())
    with pytest.raises(ValidationError, match="health_card_key"):
        Settings(health_card_key=str(tmp_path / "missing.pem"))
