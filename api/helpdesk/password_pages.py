"""The help-desk requester's password pages: choosing it from the emailed single-use link, and
changing it later."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import SESSION_COOKIE, Public, ReadsOnly, RequesterLoginDep, SessionsDep, SettingsDep
from api.errors import http_status
from api.helpdesk.pages import RequesterPageRoute, _page
from api.helpdesk.schemas import PasswordIn, RequesterSetPasswordIn
from api.pages.csrf import CheckedForm
from api.pages.rendering import field_errors, redirect
from domain.refusals import Refusal
from services import helpdesk_accounts

router = APIRouter(prefix="/helpdesk", route_class=RequesterPageRoute, include_in_schema=False)


@router.get("/set-password", dependencies=[Public])
async def set_password_page(request: Request, settings: SettingsDep, token: str = "") -> Response:
    """Where the link in the account email leads: the requester chooses a password."""
    zone = settings.helpdesk_time_zone
    return _page(request, "help/set_password.html", time_zone=zone, token=token, errors={})


@router.post("/set-password", dependencies=[Public])
async def set_password_submit(
    request: Request, form: CheckedForm, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    """A password from the emailed link; every session of the account ends (this browser's too)."""
    zone = settings.helpdesk_time_zone
    token = str(form.get("token", ""))
    try:
        body = RequesterSetPasswordIn(token=token, password=str(form.get("password", "")))
        await helpdesk_accounts.set_password_from_link(
            sessions=sessions, settings=settings, token=body.token, password=body.password
        )
    except ValidationError as exc:
        page = "help/set_password.html"
        return _page(request, page, time_zone=zone, status_code=422, token=token, errors=field_errors(exc))
    except Refusal as exc:
        return _page(
            request,
            "help/set_password.html",
            time_zone=zone,
            status_code=http_status(exc),
            token=token,
            errors={},
            failed=exc.message,
        )
    response = redirect("/helpdesk/login?notice=password_ready")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/password")
async def password_page(request: Request, current: RequesterLoginDep, settings: SettingsDep) -> Response:
    return _page(
        request,
        "help/password.html",
        time_zone=settings.helpdesk_time_zone,
        requester=current.requester,
        errors={},
    )


# ReadsOnly: the request's own transaction only reads, so the password's short write
# transaction (after hashing, in the password pool) does not wait behind it.
@router.post("/password", dependencies=[ReadsOnly])
async def password_submit(
    request: Request,
    current: RequesterLoginDep,
    form: CheckedForm,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> Response:
    zone = settings.helpdesk_time_zone
    try:
        body = PasswordIn(
            current_password=str(form.get("current_password", "")),
            new_password=str(form.get("new_password", "")),
        )
        await helpdesk_accounts.change_password(
            sessions=sessions,
            settings=settings,
            requester=current.requester,
            login=current.login,
            actor=current.actor,
            **body.model_dump(),
        )
    except ValidationError as exc:
        return _page(
            request,
            "help/password.html",
            time_zone=zone,
            status_code=422,
            requester=current.requester,
            errors=field_errors(exc),
        )
    except Refusal as exc:
        return _page(
            request,
            "help/password.html",
            time_zone=zone,
            status_code=http_status(exc),
            requester=current.requester,
            errors={},
            failed=exc.message,
        )
    return redirect("/helpdesk?notice=password_set")
