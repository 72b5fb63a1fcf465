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

from starlette.datastructures import Headers, MutableHeaders
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


class SecurityHeaders:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = request_scheme(scope, Headers(scope=scope), self.settings) == "https"
        referrer = "no-referrer" if str(scope.get("path", "")).startswith(TOKEN_PAGES) else "same-origin"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Frame-Options", "DENY")  # browsers without frame-ancestors
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("Referrer-Policy", referrer)
                if https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
