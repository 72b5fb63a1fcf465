"""Security headers on every response: an ASGI middleware, so errors and static files have them too.

- ``Content-Security-Policy``: our own scripts, styles and images only, and no framing
  (``frame-ancestors 'none'``: no clickjacking). A response that sets its own policy keeps it.
- ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: no-referrer`` on pages whose address
  carries a token (recipient links, set-password links), ``same-origin`` elsewhere.
- ``Strict-Transport-Security`` when served over HTTPS (the request's scheme, or
  ``X-Forwarded-Proto`` from a proxy named in CVMS_TRUSTED_PROXIES).

The origin check of cookie-authenticated changes is in api/deps.py (api/origin.py): it applies
where a login is read from the cookie, not to public routes.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.origin import request_scheme
from domain.settings import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Addresses whose path or query carries a secret: the next site must not receive it as referrer.
TOKEN_PAGES = ("/r/", "/portal/set-password", "/helpdesk/set-password", "/find/")
HSTS = "max-age=31536000; includeSubDomains"


# The headers in raw form, built once: (name, value) as the ASGI response start carries them.
_KEPT_IF_SET = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),  # browsers without frame-ancestors
)
_ALWAYS = (b"x-content-type-options", b"nosniff")
_HSTS = (b"strict-transport-security", HSTS.encode())
_NO_REFERRER = (b"referrer-policy", b"no-referrer")
_SAME_ORIGIN = (b"referrer-policy", b"same-origin")
# Set over whatever the response said (HSTS only over HTTPS).
_REPLACED = {False: frozenset({_ALWAYS[0]}), True: frozenset({_ALWAYS[0], _HSTS[0]})}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = request_scheme(scope, Headers(scope=scope), self.settings) == "https"
        replaced = _REPLACED[https]
        referrer = _NO_REFERRER if str(scope.get("path", "")).startswith(TOKEN_PAGES) else _SAME_ORIGIN

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", ())
                names = {name.lower() for name, _ in given}
                headers = [pair for pair in given if pair[0].lower() not in replaced]
                headers += [pair for pair in (*_KEPT_IF_SET, referrer) if pair[0] not in names]
                headers.append(_ALWAYS)
                if https:
                    headers.append(_HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
