"""The deployment's EC P-256 key for signing SMART Health Cards: configured PEM, or derived."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey


def load_signing_key(configured: str | None, secret_key: str) -> ECKey:
    """The EC P-256 key cards are signed with.

    `configured` (CVMS_HEALTH_CARD_KEY) is PEM text or the path of a PEM file. When it is
    unset the key is derived from the secret key (HKDF-SHA256), so every API replica that
    shares CVMS_SECRET_KEY signs with the same key and nothing has to be written to disk;
    a production deployment that wants to rotate the two separately sets its own key.
    """
    return load_pem_signing_key(configured) if configured else derive_signing_key(secret_key)


@lru_cache(maxsize=4)
def load_pem_signing_key(configured: str) -> ECKey:
    is_pem_text = configured.lstrip().startswith("-----BEGIN")
    pem = configured.encode() if is_pem_text else Path(configured).read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
        raise ValueError("must be an EC P-256 (prime256v1) private key in PEM")
    return ECKey.import_key(private)


@lru_cache(maxsize=4)
def derive_signing_key(secret_key: str) -> ECKey:
    return ECKey.import_key(ec.derive_private_key(_derived_scalar(secret_key), ec.SECP256R1()))


def _derived_scalar(secret_key: str) -> int:
    # 48 bytes reduced modulo the group order is uniform enough (bias < 2^-128).
    material = HKDF(
        algorithm=hashes.SHA256(), length=48, salt=b"cvms", info=b"smart-health-card signing key"
    ).derive(secret_key.encode())
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return int.from_bytes(material, "big") % (order - 1) + 1
