"""Shapes of the satisfaction survey's JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.helpdesk_survey import COMMENT_MAX, Satisfaction


class SurveyIn(BaseModel):
    token: str = Field(min_length=1, max_length=400)
    rating: Literal["good", "bad"]
    comment: str = Field(default="", max_length=COMMENT_MAX)


class SurveyOut(BaseModel):
    number: int
    rating: Literal["good", "bad"] | None
    comment: str
    asked_at: datetime
    rated_at: datetime | None

    @classmethod
    def of(cls, answer: Satisfaction) -> SurveyOut:
        return cls(
            number=answer.number,
            rating=answer.rating,  # type: ignore[arg-type]
            comment=answer.comment,
            asked_at=answer.asked_at,
            rated_at=answer.rated_at,
        )
