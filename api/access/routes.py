"""Provider logins: log in, log out, who am I, switch the active location, set a password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.access.deps import client_host, device_cookie, set_device_cookie, set_session_cookie
from api.access.schemas import LoginIn, LoginOut, MeOut, SetPasswordIn, SwitchLocationIn, describe
from api.deps import (
    SESSION_COOKIE,
    CurrentUserDep,
    LoginThrottleDep,
    Public,
    SessionDep,
    SessionsDep,
    SettingsDep,
)
from services import access
from services.access import OpenedSession

router = APIRouter(prefix="/auth", tags=["auth"])


def login_out(opened: OpenedSession) -> LoginOut:
    return LoginOut(
        **describe(opened.user, opened.active_location_id).model_dump(),
        token=opened.token,
        expires_at=opened.expires_at.isoformat(),
    )


@router.post("/login", dependencies=[Public], response_model=LoginOut)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> LoginOut:
    opened = await access.open_session(
        sessions,
        settings,
        throttle,
        client=client_host(request),
        device_cookie=device_cookie(request),
        login_name=body.login_name,
        password=body.password,
    )
    set_session_cookie(response, opened.token, settings)
    set_device_cookie(response, opened.device_cookie, settings)
    return login_out(opened)


@router.post("/logout", status_code=204)
async def logout(current: CurrentUserDep, response: Response, db: SessionDep) -> Response:
    await access.close_session(db, current.login)
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return response


@router.get("/me", response_model=MeOut)
async def me(current: CurrentUserDep) -> MeOut:
    return describe(current.user, current.login.active_location_id)


@router.post("/location", response_model=MeOut)
async def switch_location(body: SwitchLocationIn, current: CurrentUserDep, db: SessionDep) -> MeOut:
    await access.switch_active_location(current.user, current.login, body.location_id)
    return describe(current.user, body.location_id)


@router.post("/set-password", dependencies=[Public], status_code=204)
async def set_password(body: SetPasswordIn, sessions: SessionsDep, settings: SettingsDep) -> Response:
    """Completes a new account from the link in its set-up email (single use); every session of the
    login ends."""
    await access.complete_password(sessions, settings, body.token, body.password)
    return Response(status_code=204)
