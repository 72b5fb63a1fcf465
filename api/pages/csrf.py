"""Form posts must carry a token only cvms's own pages can know.

The token is an HMAC of a random per-browser nonce (cookie) and the login session,
keyed by the secret key: a page on another site can make the browser post a form
with our cookies, but it cannot read the nonce or compute the token, so the post is
refused and changes nothing.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.deps import SettingsDep, bearer_token
from api.errors import Forbidden
from api.origin import CSRF_COOKIE
from domain.security import csrf_token

CSRF_FIELD = "csrf_token"
__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CheckedForm", "checked_form", "csrf_token", "token_for"]


def request_nonce(request: Request) -> str:
    """The browser's nonce, or a new one that the page response will set as a cookie."""
    nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.new_csrf_nonce = nonce
    return nonce


def token_for(request: Request, secret_key: str) -> str:
    return csrf_token(secret_key, request_nonce(request), bearer_token(request))


async def checked_form(request: Request, settings: SettingsDep) -> FormData:
    """The posted form, once its token proves it came from one of our pages.

    Declare it after the actor in a page route's signature, so a missing login is
    answered first (with the login page) and the token is checked before any input.
    """
    form = await request.form()
    nonce = request.cookies.get(CSRF_COOKIE, "")
    expected = csrf_token(settings.secret_key, nonce, bearer_token(request))
    if not nonce or not hmac.compare_digest(str(form.get(CSRF_FIELD, "")), expected):
        raise Forbidden(
            "This form did not come from this site or has expired. Go back, reload the page and try again.",
            code="csrf",
        )
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
