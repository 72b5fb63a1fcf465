"""Screening questions on the pages that book or document a dose (the provider portal's and
the recipient's booking link): which questions to ask, the answers a form posted, and a
refusal to show beside the form. The rules themselves are services/eligibility.py's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from api.errors import ApiError
from api.pages.i18n import N_
from api.shaping import from_attributes
from records.eligibility import ScreeningQuestion, screening_questions

ANSWERS = [("yes", N_("Yes")), ("no", N_("No"))]


@dataclass(frozen=True)
class Asked:
    """A question as a form asks it: its text in both languages and the answers offered."""

    code: str
    prompt: str
    prompt_es: str | None
    reason: str
    reason_es: str | None
    options: list[tuple[str, str]]

    @property
    def field(self) -> str:
        return f"screening-{self.code}"


def asked(question: ScreeningQuestion) -> Asked:
    options = list(ANSWERS)
    if question.trigger_answer.strip().casefold() not in ("yes", "no"):
        options.append((question.trigger_answer, question.trigger_answer))
    return from_attributes(Asked, question, options=options)


async def questions_for(db: AsyncSession, product_code: str) -> list[Asked]:
    return [asked(q) for q in await screening_questions(db, product_code)]


def answers_from(form: FormData, questions: list[Asked]) -> dict[str, str]:
    """The answers posted for these questions (a question left unanswered is left out)."""
    found = {q.code: str(form.get(q.field, "")).strip()[:20] for q in questions}
    return {code: answer for code, answer in found.items() if answer}


@dataclass(frozen=True)
class Refusal:
    """Why a booking or a dose was refused, with what the page needs to say it in its language."""

    code: str | None
    message: str  # the API's own words, shown when there is nothing better
    question: Asked | None = None
    until: date | None = None
    minimum_age: int | None = None
    age: int | None = None
    missing: list[str] = field(default_factory=list)


def refusal_of(error: ApiError, questions: list[Asked]) -> Refusal:
    extra: dict[str, Any] = error.extra
    by_code = {q.code: q for q in questions}
    until = extra.get("until")
    return Refusal(
        code=error.code,
        message=error.message,
        question=by_code.get(str(extra.get("question", ""))),
        until=date.fromisoformat(until) if isinstance(until, str) else None,
        minimum_age=extra.get("minimum_age"),
        age=extra.get("age"),
        missing=list(extra.get("missing", [])),
    )
