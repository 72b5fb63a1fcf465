"""Where a request comes from: the client's scheme behind a trusted proxy, and whether a change
authenticated by the session cookie came from this site (the origin check of api/deps.py)."""

from __future__ import annotations

import hmac
from ipaddress import ip_address
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from domain.security import csrf_token
from domain.settings import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CSRF_HEADER = "x-csrf-token"
CSRF_COOKIE = "cvms_csrf"


def is_trusted_proxy(host: str | None, settings: Settings) -> bool:
    """Whether ``host`` is one of CVMS_TRUSTED_PROXIES (whose forwarded headers are believed)."""
    if not host or not settings.trusted_proxy_networks:
        return False
    try:
        address = ip_address(host.strip())
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxy_networks)


def request_scheme(scope: Scope, headers: Headers, settings: Settings) -> str:
    """http or https as the client sees it: the connection's, or a trusted proxy's X-Forwarded-Proto."""
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    client = scope.get("client")
    if forwarded in ("http", "https") and is_trusted_proxy(client[0] if client else None, settings):
        return forwarded
    return str(scope.get("scheme", "http"))


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def cookie_change_allowed(
    scope: Scope, settings: Settings, session_token: str, cookies: dict[str, str]
) -> bool:
    """A change authenticated by the session cookie alone: allowed when the browser says it comes
    from this site (Origin, or Referer without one) or it carries the CSRF token (X-CSRF-Token);
    a form post naming no origin is left to its page, which checks the form's own token."""
    headers = Headers(scope=scope)
    scheme = request_scheme(scope, headers, settings)
    own = {f"{scheme}://{headers.get('host', '')}".lower(), origin_of(settings.public_base_url)}
    if str(scope.get("path", "")).startswith("/codec/"):  # the Temporal Web UI, allowed by CORS there
        own |= {origin.lower() for origin in settings.temporal_ui_origin_list}
    origin, referer = headers.get("origin"), headers.get("referer")
    claimed = origin.lower() if origin and origin != "null" else origin_of(referer or "")
    if claimed in own:
        return True
    sent, nonce = headers.get(CSRF_HEADER, ""), cookies.get(CSRF_COOKIE, "")
    if nonce and sent and hmac.compare_digest(sent, csrf_token(settings.secret_key, nonce, session_token)):
        return True
    return claimed is None and headers.get("content-type", "").lower().startswith(FORM_TYPES)
