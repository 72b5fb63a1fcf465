"""The payload key ring (CVMS_PAYLOAD_KEYS): which keys seal Temporal payloads, and which open them."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass


class KeyRingError(ValueError):
    """A payload key setting that cannot be used; the message says why (never the key)."""


@dataclass(frozen=True)
class KeyRing:
    """Payload keys by id; the first is current (encrypts), every one decrypts."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """'id:base64key,id2:base64key2' (first = current); AES-256 keys (32 bytes)."""
        keys: list[tuple[str, bytes]] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key_id, colon, encoded = part.partition(":")
            key_id = key_id.strip()
            if not colon or not key_id or not encoded.strip():
                raise KeyRingError("each key is id:base64key (keys separated by commas)")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyRingError(f"key {key_id!r} is not valid base64") from None
            if len(key) != 32:
                raise KeyRingError(f"key {key_id!r} must be 32 bytes (base64 of 32 random bytes)")
            if any(key_id == known for known, _ in keys):
                raise KeyRingError(f"key id {key_id!r} is given twice")
            keys.append((key_id, key))
        return cls(tuple(keys))

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes | None:
        return next((key for known, key in self.keys if known == key_id), None)

    def __bool__(self) -> bool:
        return bool(self.keys)


def new_key_spec(key_id: str) -> str:
    """A fresh 'id:base64key' entry for CVMS_PAYLOAD_KEYS."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"
