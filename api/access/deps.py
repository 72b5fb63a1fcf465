"""Access helpers shared by routes and pages: the client address, the session cookie, a location user."""

from __future__ import annotations

from fastapi import Request, Response

from api.deps import SESSION_COOKIE, Manager, at_active_location
from domain.settings import Settings
from records.users import Membership


def client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https"),
        max_age=int(settings.session_hours * 3600),
    )


# The user's membership at the manager's active location; any other user is a 404.
LocationUserDep = at_active_location(
    Membership, id_name="user_id", message="no such user at this location", actor=Manager, key="user_id"
)
