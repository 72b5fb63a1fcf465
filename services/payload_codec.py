"""Payload encryption for Temporal: every payload a client, worker or replayer writes is sealed
with AES-GCM under the current key of a key ring; the key's id travels in the payload's metadata,
so payloads sealed under an older key still open after the key has been rotated.

A payload that was never sealed (histories recorded before encryption) passes through unchanged.
The Temporal Web UI reads sealed payloads through the API's codec endpoint (administrators only).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from domain.payload_keys import KeyRing, KeyRingError
from domain.refusals import Invalid

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
# The most payloads one codec request may carry (the Web UI sends a page of events at a time).
MAX_CODEC_PAYLOADS = 2000


class EncryptionCodec(PayloadCodec):
    """AES-GCM per payload: a fresh nonce, the key id as associated data (a payload moved to
    another key id does not open)."""

    def __init__(self, ring: KeyRing) -> None:
        if not ring:
            raise KeyRingError("the payload key ring is empty")
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        key_id = self.ring.current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption: passes as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyRingError(f"payload sealed with key {key_id!r}, which is not in CVMS_PAYLOAD_KEYS")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
        except InvalidTag:
            raise KeyRingError(f"a payload sealed with key {key_id!r} does not open (altered?)") from None


# --------------------------------------------------------------------------- the Web UI's codec protocol


def _payload_from_json(item: object) -> Payload:
    if not isinstance(item, dict):
        raise Invalid("each payload is an object with metadata and data", code="bad_payload")
    try:
        metadata = {
            str(k): base64.b64decode(str(v), validate=True) for k, v in (item.get("metadata") or {}).items()
        }
        data = base64.b64decode(str(item.get("data") or ""), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise Invalid("payload metadata and data must be base64", code="bad_payload") from None
    return Payload(metadata=metadata, data=data)


def _payload_to_json(payload: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def run_codec(
    codec: EncryptionCodec, payloads: Iterable[object], *, decode: bool
) -> list[dict[str, object]]:
    """The Web UI's remote codec: JSON payloads (base64 metadata and data) in, the same out."""
    given = list(payloads)
    if len(given) > MAX_CODEC_PAYLOADS:
        raise Invalid(f"at most {MAX_CODEC_PAYLOADS} payloads at a time", code="too_many_payloads")
    decoded = [_payload_from_json(item) for item in given]
    try:
        done = await (codec.decode(decoded) if decode else codec.encode(decoded))
    except KeyRingError as exc:
        raise Invalid(str(exc), code="undecryptable_payload") from None
    return [_payload_to_json(p) for p in done]
