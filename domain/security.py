"""Passwords (argon2), session tokens, and signed links (itsdangerous)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()
# A real hash to verify against when the login name is unknown, so a failed
# login takes the same time whether or not the account exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Signed-link purposes of the set-password links (a staff account's, a help-desk requester's).
SET_PASSWORD_PURPOSE = "set-password"
REQUESTER_SET_PASSWORD_PURPOSE = "requester-set-password"


def password_fingerprint(password_hash: str | None) -> str:
    """What a set-password link remembers of the password it replaces: "" for none yet, else a short
    digest of the hash (never the hash itself, which the link would show to anyone reading it). The
    link stops working once the password changes, which makes it single use."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16] if password_hash else ""


def csrf_token(secret_key: str, nonce: str, session_token: str | None) -> str:
    """The token a form (or a script, as X-CSRF-Token) of this site proves itself with: an HMAC of
    the browser's nonce and its login session."""
    session = token_digest(session_token) if session_token else ""
    return hmac.new(secret_key.encode(), f"csrf|{nonce}|{session}".encode(), hashlib.sha256).hexdigest()


class LinkError(Exception):
    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def sign_link(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    return URLSafeTimedSerializer(secret_key, salt=f"cvms:{purpose}").dumps(payload)


def _load_link(
    secret_key: str, purpose: str, token: str, max_age_seconds: float
) -> tuple[dict[str, Any], int]:
    serializer = URLSafeTimedSerializer(secret_key, salt=f"cvms:{purpose}")
    try:
        payload, signed_at = serializer.loads(
            token, max_age=math.floor(max_age_seconds), return_timestamp=True
        )  # ages are whole seconds
    except SignatureExpired as exc:
        raise LinkError("this link has expired", expired=True) from exc
    except BadSignature as exc:
        raise LinkError("this link is not valid") from exc
    if not isinstance(payload, dict):
        raise LinkError("this link is not valid")
    return payload, int(signed_at.timestamp())


def read_link(secret_key: str, purpose: str, token: str, max_age_seconds: float) -> dict[str, Any]:
    """The payload of a signed link; a tampered, foreign or expired one raises LinkError."""
    return _load_link(secret_key, purpose, token, max_age_seconds)[0]


def link_identity(secret_key: str, purpose: str, token: str, max_age_seconds: float) -> str:
    """A digest of what the link was signed for (purpose, payload, signing time), never of its text:
    base64 has spare bits, so one signed link has several spellings that all verify."""
    payload, signed_at = _load_link(secret_key, purpose, token, max_age_seconds)
    signed = json.dumps([purpose, payload, signed_at], sort_keys=True, separators=(",", ":"))
    return "link:" + hashlib.sha256(signed.encode()).hexdigest()
