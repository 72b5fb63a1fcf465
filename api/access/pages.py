"""The provider portal's frame: language switch, log in / out, set a password, switch location."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.access.deps import client_host, device_cookie, set_device_cookie, set_session_cookie
from api.access.schemas import SetPasswordIn
from api.deps import (
    SESSION_COOKIE,
    CurrentUserDep,
    LoginThrottleDep,
    Public,
    SessionDep,
    SessionsDep,
    SettingsDep,
    bearer_token,
)
from api.errors import http_status, retry_after
from api.pages.csrf import CheckedForm
from api.pages.i18n import LANGUAGE_COOKIE, LANGUAGES
from api.pages.rendering import PageRoute, field_errors, redirect, render, safe_next
from domain.refusals import Invalid, Throttled, Unauthenticated
from records.db import reading
from services import access

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/lang/{code}", dependencies=[Public])
async def switch_language(code: str, next: str | None = None) -> Response:
    response = redirect(safe_next(next, "/portal"))
    if code in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/portal/login", dependencies=[Public])
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "portal/login.html", next=safe_next(next, "/portal"), login_name="")


@router.post("/portal/login", dependencies=[Public])
async def login_submit(
    request: Request,
    form: CheckedForm,
    sessions: SessionsDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> Response:
    login_name = str(form.get("login_name", ""))
    target = safe_next(str(form.get("next", "")), "/portal")
    try:
        opened = await access.open_session(
            sessions,
            settings,
            throttle,
            client=client_host(request),
            device_cookie=device_cookie(request),
            login_name=login_name,
            password=str(form.get("password", "")),
        )
    except (Unauthenticated, Throttled) as exc:
        page = render(
            request,
            "portal/login.html",
            status_code=http_status(exc),
            failed=exc.message,
            next=target,
            login_name=login_name,
        )
        page.headers.update(retry_after(exc))
        return page
    if target == access.PORTAL_HOME:  # no page asked for: the login's own start page
        async with reading(sessions) as db:
            target = await access.start_page(db, opened)
    response = redirect(target)
    set_session_cookie(response, opened.token, settings)
    set_device_cookie(response, opened.device_cookie, settings)
    if opened.user.preferred_language in LANGUAGES and LANGUAGE_COOKIE not in request.cookies:
        response.set_cookie(LANGUAGE_COOKIE, opened.user.preferred_language, samesite="lax")
    return response


@router.post("/portal/logout")
async def logout_submit(current: CurrentUserDep, form: CheckedForm, db: SessionDep) -> Response:
    await access.close_session(db, current.login)
    response = redirect("/portal/login?notice=logged_out")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/portal/location")
async def switch_location_submit(current: CurrentUserDep, form: CheckedForm) -> Response:
    try:
        location_id = int(str(form.get("location_id", "")))
    except ValueError as exc:
        raise Invalid("Choose one of your locations.") from exc
    await access.switch_active_location(current.user, current.login, location_id)
    return redirect("/portal?notice=location_switched")


@router.get("/portal/set-password", dependencies=[Public])
async def set_password_page(request: Request, token: str = "") -> Response:
    return render(request, "portal/set_password.html", token=token, errors={})


@router.post("/portal/set-password", dependencies=[Public])
async def set_password_submit(
    request: Request, form: CheckedForm, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    token = str(form.get("token", ""))
    try:
        body = SetPasswordIn(token=token, password=str(form.get("password", "")))
    except ValidationError as exc:
        errors = field_errors(exc)
        return render(request, "portal/set_password.html", status_code=422, token=token, errors=errors)
    try:
        await access.complete_password(sessions, settings, body.token, body.password)
    except Invalid as exc:
        return render(
            request, "portal/set_password.html", status_code=422, token=token, errors={}, failed=exc.message
        )
    response = redirect("/portal/login?notice=password_set")
    if bearer_token(request):  # someone else's session in this browser ends here
        response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", dependencies=[Public])
async def root() -> Response:
    return redirect("/portal")
