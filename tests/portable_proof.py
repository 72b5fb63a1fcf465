"""Test helpers for SMART Health Cards, FHIR and VXU: independent readers of what cvms produces.

The signature check uses only `cryptography` and the published JWKS (not cvms's signing
code), the QR code is read back from the PNG (or from a PDF's image, with pypdf) with
zxing-cpp, FHIR is parsed with fhir.resources and HL7 v2 with hl7apy.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zlib
from datetime import UTC, date, datetime
from typing import Any

import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fhir.resources.R4B.bundle import Bundle
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message
from PIL import Image
from pypdf import PdfReader

from notifications.immunization import DoseFacts, PatientFacts


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def rfc7638_thumbprint(jwk: dict[str, str]) -> str:
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class CardRejected(Exception):
    pass


def verify_card(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a SMART Health Card JWS, checked against a JWKS as a verifier app would."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    if header.get("alg") != "ES256" or header.get("zip") != "DEF":
        raise CardRejected(f"unexpected header {header}")
    jwk = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise CardRejected("no key with that kid")
    if rfc7638_thumbprint(jwk) != jwk["kid"]:
        raise CardRejected("kid is not the key's RFC 7638 thumbprint")
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(jwk["x"]), "big"),
        int.from_bytes(b64url_decode(jwk["y"]), "big"),
        ec.SECP256R1(),
    ).public_key()
    raw = b64url_decode(signature_b64)
    if len(raw) != 64:  # JWS ES256 is r||s, not DER
        raise CardRejected("signature is not 64 bytes")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise CardRejected("bad signature") from exc
    payload = json.loads(zlib.decompress(b64url_decode(payload_b64), wbits=-15))
    return header, payload


def scan_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"expected one QR code, found {len(found)}"
    return found[0].text


def qr_in_pdf(content: bytes) -> str:
    """The text of the one QR code among a PDF's images, read back as a phone would scan it."""
    found = [
        code.text
        for page in PdfReader(io.BytesIO(content)).pages
        for image in page.images
        for code in zxingcpp.read_barcodes(image.image)
    ]
    assert len(found) == 1, f"expected one QR code in the PDF, found {len(found)}"
    return found[0]


def uri_to_token(uri: str) -> str:
    assert uri.startswith("shc:/")
    digits = uri[5:]
    assert digits.isdigit() and len(digits) % 2 == 0
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


def parse_fhir_bundle(document: dict[str, Any] | str | bytes) -> Bundle:
    """fhir.resources ships R4B (4.3) beside R5; R4B's Bundle/Patient/Immunization are R4's."""
    if isinstance(document, dict):
        return Bundle.model_validate(document)
    return Bundle.model_validate_json(document)


def parse_vxu(message: str) -> Message:
    parsed = parse_message(message, validation_level=VALIDATION_LEVEL.STRICT)
    assert parsed.validate()
    return parsed


def split_vxu_batch(batch: str) -> tuple[list[str], list[str]]:
    """(envelope segment names, messages) of an HL7 batch file."""
    segments = [s for s in batch.split("\r") if s]
    envelope = [s[:3] for s in segments if s[:3] in {"FHS", "BHS", "BTS", "FTS"}]
    messages: list[list[str]] = []
    for segment in segments:
        if segment[:3] in {"FHS", "BHS", "BTS", "FTS"}:
            continue
        if segment.startswith("MSH"):
            messages.append([])
        messages[-1].append(segment)
    return envelope, ["\r".join(m) + "\r" for m in messages]


GIVEN = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)


def sample_patient(**changes: Any) -> PatientFacts:
    fields: dict[str, Any] = {
        "id": 7,
        "first_name": "María",
        "middle_name": "José",
        "last_name": "Peña|Ruiz",
        "date_of_birth": date(1980, 2, 3),
        "sex": "female",
        "address_line": "1 Main St",
        "city": "Raleigh",
        "state": "NC",
        "postal_code": "27601",
        "phone": "(919) 555-1234",
        "email": "maria@example.org",
        "language": "es",
        "race": "white",
        "ethnicity": "hispanic_or_latino",
    }
    return PatientFacts(**{**fields, **changes})


def sample_dose(**changes: Any) -> DoseFacts:
    fields: dict[str, Any] = {
        "id": 11,
        "recipient_id": 7,
        "product_code": "pfizer",
        "dose_number": 1,
        "series_doses": 2,
        "lot_number": "PFI-WAKE-01-001",
        "expires_on": date(2030, 12, 31),
        "injection_site": "left_deltoid",
        "route": "intramuscular",
        "administered_by": "Nurse Ann Lee",
        "given_at": GIVEN,
        "recorded_at": GIVEN,
        "location_code": "WAKE-01",
        "location_name": "Wake County Health Dept",
    }
    return DoseFacts(**{**fields, **changes})
