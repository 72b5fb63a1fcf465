"""The satisfaction survey's JSON routes: what a rating link names, and the one answer to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Public, SessionDep, SettingsDep
from api.helpdesk.survey_schemas import SurveyIn, SurveyOut
from services import helpdesk_survey

router = APIRouter(prefix="/helpdesk", tags=["helpdesk"])


@router.get("/survey", dependencies=[Public], response_model=SurveyOut)
async def survey(
    db: SessionDep, settings: SettingsDep, token: Annotated[str, Query(max_length=400)]
) -> SurveyOut:
    """The case a survey link asks about; an answered survey is 409 ``link_used``."""
    return SurveyOut.of(await helpdesk_survey.open_survey(db=db, settings=settings, token=token))


@router.post("/survey", dependencies=[Public], response_model=SurveyOut)
async def rate_case(body: SurveyIn, db: SessionDep, settings: SettingsDep) -> SurveyOut:
    """Rates the case good or bad, with an optional comment, once: a second use is 409 ``link_used``."""
    answered = await helpdesk_survey.rate(
        db=db, settings=settings, token=body.token, rating=body.rating, comment=body.comment
    )
    return SurveyOut.of(answered)
