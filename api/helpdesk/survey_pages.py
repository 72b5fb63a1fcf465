"""The satisfaction survey's pages: where a rating link from the email leads (the choice made,
a comment box) and the thanks; a spent, expired or foreign link gets a page that says so."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import Public, SessionDep, SettingsDep
from api.errors import http_status
from api.helpdesk.pages import RequesterPageRoute, _page
from api.pages.csrf import CheckedForm
from domain.refusals import Refusal
from services import helpdesk_survey

router = APIRouter(prefix="/helpdesk", route_class=RequesterPageRoute, include_in_schema=False)
PAGE = "help/survey.html"


@router.get("/survey", dependencies=[Public])
async def survey_page(
    request: Request, db: SessionDep, settings: SettingsDep, token: str = "", rating: str = "good"
) -> Response:
    """Nothing is recorded by opening the link (mail scanners open links too): the requester sends it."""
    zone = settings.helpdesk_time_zone
    try:
        survey = await helpdesk_survey.open_survey(db=db, settings=settings, token=token[:400])
    except Refusal as exc:
        return _page(
            request, PAGE, time_zone=zone, status_code=http_status(exc), failed=exc.message, code=exc.code
        )
    chosen = rating if rating in ("good", "bad") else "good"
    return _page(request, PAGE, time_zone=zone, survey=survey, token=token, rating=chosen)


@router.post("/survey", dependencies=[Public])
async def survey_submit(
    request: Request, form: CheckedForm, db: SessionDep, settings: SettingsDep
) -> Response:
    zone = settings.helpdesk_time_zone
    token = str(form.get("token", ""))[:400]
    try:
        answered = await helpdesk_survey.rate(
            db=db,
            settings=settings,
            token=token,
            rating=str(form.get("rating", "")),
            comment=str(form.get("comment", "")),
        )
    except Refusal as exc:
        return _page(
            request, PAGE, time_zone=zone, status_code=http_status(exc), failed=exc.message, code=exc.code
        )
    return _page(request, PAGE, time_zone=zone, answered=answered)
