"""Request and response models of the eligibility rules, and the screening answers a booking carries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.text import Line

ProductCode = Annotated[str, Path(min_length=1, max_length=40)]
Screening = dict[Annotated[str, Field(max_length=60)], Annotated[str, Field(max_length=20)]]


class QuestionIn(BaseModel):
    code: Line = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_\-]+$")
    prompt: Line = Field(min_length=1, max_length=500)
    prompt_es: Line | None = Field(default=None, min_length=1, max_length=500, description="in Spanish")
    product_code: Line | None = Field(default=None, max_length=40, description="none: every product")
    trigger_answer: Line = Field(default="yes", min_length=1, max_length=20)
    effect: Literal["refuse", "defer"]
    defer_days: int | None = Field(default=None, ge=1, le=3650)
    reason: Line = Field(min_length=1, max_length=500, description="what the person is told")
    reason_es: Line | None = Field(default=None, min_length=1, max_length=500, description="in Spanish")

    @model_validator(mode="after")
    def _defer_needs_days(self) -> QuestionIn:
        if self.effect == "defer" and self.defer_days is None:
            raise ValueError("defer_days: required when the effect is defer")
        return self


class QuestionOut(QuestionIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    active: bool


class MinimumAgeIn(BaseModel):
    years: int = Field(ge=0, le=120)


class EligibilityOut(BaseModel):
    product_code: str
    minimum_age_years: int | None
    questions: list[QuestionOut]
