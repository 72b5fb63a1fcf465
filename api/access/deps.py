"""Access helpers shared by routes and pages: the client address, the session and device cookies,
the login throttle, a location user."""

from __future__ import annotations

from fastapi import Request, Response

from api.deps import SESSION_COOKIE, Manager, at_active_location
from api.origin import is_trusted_proxy
from domain.settings import Settings
from records.users import Membership

DEVICE_COOKIE = "cvms_device"


def client_host(request: Request) -> str | None:
    """The client's address: the connection's, or, when that is a trusted proxy
    (CVMS_TRUSTED_PROXIES), the nearest untrusted address of its X-Forwarded-For."""
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else None
    if peer is None or not is_trusted_proxy(peer, settings):
        return peer
    forwarded = [
        h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()
    ]
    for hop in reversed(forwarded):  # the right-most hops were added by our own proxies
        if not is_trusted_proxy(hop, settings):
            return hop
    return forwarded[0] if forwarded else peer


def device_cookie(request: Request) -> str | None:
    return request.cookies.get(DEVICE_COOKIE)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
        max_age=int(settings.session_hours * 3600),
    )


def set_device_cookie(response: Response, device_cookie: str, settings: Settings) -> None:
    """Marks the browser as one its logins have used: their right password is never delayed here."""
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
        max_age=int(settings.login_device_days * 86400),
    )


# The user's membership at the manager's active location; any other user is a 404.
LocationUserDep = at_active_location(
    Membership, id_name="user_id", message="no such user at this location", actor=Manager, key="user_id"
)
