"""The satisfaction survey of a help-desk case: opening its emailed link, rating once (good or bad,
with an optional comment), and the rating as the case shows it.

The case workflow asks for the survey email a configured business time after resolution; the email
activity makes the survey row and mints its links. A link is single use by the survey it names: once
the survey is rated, every link to it (however spelled, or minted by a retried send) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.helpdesk import SURVEY_PURPOSE
from domain.refusals import Conflict, Forbidden, Gone, Invalid, NotFound
from domain.security import LinkError, read_link
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.helpdesk import Case
from records.helpdesk_survey import RATINGS, CaseSurvey

COMMENT_MAX = 2000
ANSWERED = "this survey has already been answered; thank you"


@dataclass(frozen=True)
class Satisfaction:
    """A case's survey as the case, the queue and the report show it."""

    number: int
    rating: str | None  # None: asked, not answered
    comment: str
    asked_at: datetime
    rated_at: datetime | None


async def _linked(db: AsyncSession, settings: Settings, token: str) -> tuple[CaseSurvey, Case]:
    try:
        payload = read_link(
            settings.secret_key, SURVEY_PURPOSE, token, settings.helpdesk_survey_link_max_age_seconds
        )
    except LinkError as error:
        if error.expired:
            raise Gone("this survey link has expired", code="link_expired") from None
        raise Forbidden("this survey link is not valid", code="link_invalid") from None
    if not isinstance(payload.get("s"), int):
        raise Forbidden("this survey link is not valid", code="link_invalid")
    survey = await db.get(CaseSurvey, payload["s"])
    case = await db.get(Case, survey.case_id) if survey is not None else None
    if survey is None or case is None:
        raise NotFound("this case no longer exists")
    return survey, case


def _view(survey: CaseSurvey, case: Case) -> Satisfaction:
    return Satisfaction(case.number or 0, survey.rating, survey.comment, survey.created_at, survey.rated_at)


async def open_survey(*, db: AsyncSession, settings: Settings, token: str) -> Satisfaction:
    """The survey a link names, while it may still be answered (answered: 409 ``link_used``)."""
    survey, case = await _linked(db, settings, token)
    if survey.rated_at is not None:
        raise Conflict(ANSWERED, code="link_used", number=case.number)
    return _view(survey, case)


async def rate(
    *, db: AsyncSession, settings: Settings, token: str, rating: str, comment: str = ""
) -> Satisfaction:
    """Records the rating and comment once; a second use of any link of the survey is refused."""
    survey, case = await _linked(db, settings, token)
    if rating not in RATINGS:
        raise Invalid("the rating is 'good' or 'bad'", code="bad_rating")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise Invalid(f"a comment has at most {COMMENT_MAX} characters", code="comment_too_long")
    now = utcnow()
    # One conditional write: two answers at once cannot both be recorded.
    spent = await db.execute(
        update(CaseSurvey)
        .where(CaseSurvey.id == survey.id, CaseSurvey.rated_at.is_(None))
        .values(rating=rating, comment=comment, rated_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(ANSWERED, code="link_used", number=case.number)
    audit(
        db,
        actor=f"requester:{case.requester_id}",
        entity="case_survey",
        entity_id=survey.id,
        action="rate",
        changes={"rating": [None, rating], "comment": [None, bool(comment)]},
    )
    await db.refresh(survey)
    return _view(survey, case)


async def satisfaction_of(db: AsyncSession, case: Case) -> Satisfaction | None:
    """The case's survey (None: not asked yet)."""
    survey = (await db.execute(select(CaseSurvey).where(CaseSurvey.case_id == case.id))).scalar_one_or_none()
    return _view(survey, case) if survey is not None else None
