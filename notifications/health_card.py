"""SMART Health Cards: the deployment's signing key, its JWKS, and the signed card with its QR code.

Follows the SMART Health Cards framework (https://spec.smarthealth.cards): a minimal FHIR
R4 Bundle (Patient + Immunizations) inside a verifiable-credential payload, minified,
raw-DEFLATE-compressed, signed as a compact JWS (ES256, header zip=DEF, kid = RFC 7638
thumbprint), then numerically encoded as `shc:/…` in a version ≤ 22, error-level L QR code.
Verifiers fetch the public key from `<iss>/.well-known/jwks.json`.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter
from segno.consts import MODE_BYTE, MODE_NUMERIC

from notifications.immunization import CVX_SYSTEM, FHIR_VERSION, DoseFacts, PatientFacts, vaccine_for

CARD_TYPES = [
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#immunization",
    "https://smarthealth.cards#covid19",
]
MAX_QR_VERSION = 22  # the framework's limit for a single (unchunked) QR code
MAX_JWS_LENGTH = 1195  # what fits in a version 22 QR code in numeric mode
# JWS itself has no "zip" header (it comes from JWE); the framework uses it, so allow it.
_REGISTRY = jws.JWSRegistry(
    header_registry={"zip": HeaderParameter("Compression algorithm (SMART Health Cards)", "str")},
    algorithms=["ES256"],
)


class HealthCardTooLarge(ValueError):
    """The signed card does not fit in one QR code."""


# --- the deployment's key ----------------------------------------------------------------------


def key_id(key: ECKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key, as the framework requires."""
    return key.thumbprint()


def jwks(key: ECKey) -> dict[str, Any]:
    """The public JWK Set served at /.well-known/jwks.json."""
    public = key.as_dict(private=False)
    public.update({"kid": key_id(key), "use": "sig", "alg": "ES256"})
    return {"keys": [public]}


# --- the card ----------------------------------------------------------------------------------


def card_bundle(patient: PatientFacts, doses: list[DoseFacts]) -> dict[str, Any]:
    """The minimal Bundle the framework asks for: no ids, no narrative, `resource:N` references.

    Doses removed as erroneous are not part of a person's proof.
    """
    given = [n for n in (patient.first_name, patient.middle_name) if n]
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "resource:0",
            "resource": {
                "resourceType": "Patient",
                "name": [{"family": patient.last_name, "given": given}],
                "birthDate": patient.date_of_birth.isoformat(),
            },
        }
    ]
    for dose in sorted((d for d in doses if not d.removed), key=lambda d: (d.given_at, d.id)):
        cvx = vaccine_for(dose.product_code).cvx
        entries.append(
            {
                "fullUrl": f"resource:{len(entries)}",
                "resource": {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": {"coding": [{"system": CVX_SYSTEM, "code": cvx}]},
                    "patient": {"reference": "resource:0"},
                    "occurrenceDateTime": dose.given_at.date().isoformat(),
                    "performer": [{"actor": {"display": dose.location_name}}],
                    "lotNumber": dose.lot_number,
                    # The dose's number in its family and its series (a booster after two primary
                    # doses is dose 3), so a verifier need not count the doses itself.
                    "protocolApplied": [_protocol(dose)],
                },
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _protocol(dose: DoseFacts) -> dict[str, Any]:
    applied: dict[str, Any] = {"doseNumberPositiveInt": dose.dose_number}
    if dose.series:
        applied["series"] = dose.series
    return applied


def credential(issuer: str, issued_at: datetime, bundle: dict[str, Any]) -> dict[str, Any]:
    return {
        "iss": issuer.rstrip("/"),
        "nbf": int(issued_at.timestamp()),
        "vc": {
            "type": CARD_TYPES,
            "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": bundle},
        },
    }


def minified(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # wbits -15: raw DEFLATE, no zlib header
    return compressor.compress(data) + compressor.flush()


def inflate_raw(data: bytes) -> bytes:
    return zlib.decompress(data, wbits=-15)


def sign(payload: dict[str, Any], key: ECKey) -> str:
    header = {"alg": "ES256", "zip": "DEF", "kid": key_id(key)}
    return jws.serialize_compact(header, deflate_raw(minified(payload)), key, registry=_REGISTRY)


def verify(token: str, key: ECKey) -> dict[str, Any]:
    """The payload of a card signed by `key`; raises joserfc's BadSignatureError otherwise."""
    compact = jws.deserialize_compact(token, key, registry=_REGISTRY)
    return json.loads(inflate_raw(compact.payload))


def numeric_uri(token: str) -> str:
    """`shc:/` then two digits per JWS character (its code point minus 45)."""
    return "shc:/" + "".join(f"{ord(ch) - 45:02d}" for ch in token)


def token_from_uri(uri: str) -> str:
    digits = uri.removeprefix("shc:/")
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


def qr_code(uri: str) -> segno.QRCode:
    # Two segments as the framework specifies: "shc:/" in byte mode, the digits in numeric mode.
    return segno.make_qr(
        [("shc:/", MODE_BYTE), (uri.removeprefix("shc:/"), MODE_NUMERIC)], error="L", boost_error=False
    )


def qr_png(uri: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    qr_code(uri).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


@dataclass(frozen=True)
class HealthCard:
    token: str  # the compact JWS
    uri: str  # shc:/…
    qr_png: bytes

    def file_document(self) -> dict[str, Any]:
        """The `.smart-health-card` file (application/smart-health-card)."""
        return {"verifiableCredential": [self.token]}


def health_card(
    patient: PatientFacts, doses: list[DoseFacts], *, issuer: str, issued_at: datetime, key: ECKey
) -> HealthCard:
    token = sign(credential(issuer, issued_at, card_bundle(patient, doses)), key)
    if len(token) > MAX_JWS_LENGTH:
        raise HealthCardTooLarge(f"the card is {len(token)} characters; one QR code holds {MAX_JWS_LENGTH}")
    uri = numeric_uri(token)
    return HealthCard(token=token, uri=uri, qr_png=qr_png(uri))
