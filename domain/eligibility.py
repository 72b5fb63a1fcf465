"""Eligibility: pure checks of a recipient against the rules (data) of a product.

Used by the API when booking and when documenting a dose. No I/O, no clock:
the day the person would be vaccinated is passed in. A refusal is a
`RuleViolation` (domain/dose_rules.py) whose message says why.

* Minimum age: the recipient must have reached it on the day of the dose.
* Screening questions: each has the answer that triggers it and its effect,
  "refuse" (not with this product) or "defer" (not before `defer_days` days).
  Every question that applies must be answered; a missing answer is refused
  as incomplete (422) and names the questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from domain.dose_rules import RuleViolation

# Authorised minimum ages when the programme ran (Pfizer-BioNTech from 12, the others adults).
DEFAULT_MINIMUM_AGES = {"pfizer": 12, "moderna": 18, "novavax": 18, "janssen": 18}


@dataclass(frozen=True)
class ScreeningRule:
    code: str
    prompt: str
    trigger_answer: str
    effect: Literal["refuse", "defer"]
    defer_days: int | None
    reason: str


@dataclass(frozen=True)
class EligibilityRules:
    product_code: str
    minimum_age_years: int | None
    questions: tuple[ScreeningRule, ...] = ()


def age_on(date_of_birth: date, day: date) -> int:
    """Whole years of age on `day` (a 29 February birthday counts from 1 March)."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def normalise_answer(answer: str) -> str:
    return answer.strip().casefold()


def check_eligibility(
    rules: EligibilityRules, date_of_birth: date, day: date, answers: dict[str, str] | None
) -> None:
    """Raises RuleViolation (409 refused or deferred, 422 incomplete answers) with the reason."""
    minimum = rules.minimum_age_years
    if minimum is not None:
        age = age_on(date_of_birth, day)
        if age < minimum:
            raise RuleViolation(
                "too_young",
                f"{rules.product_code} is for people aged {minimum} and over; "
                f"this recipient is {age} on {day.isoformat()}.",
                details={"minimum_age": minimum, "age": age},
            )
    if not rules.questions:
        return
    given = {code: normalise_answer(value) for code, value in (answers or {}).items()}
    missing = [q.code for q in rules.questions if q.code not in given]
    if missing:
        raise RuleViolation(
            "screening_incomplete",
            "answer every screening question first: "
            + "; ".join(f"{q.code} ({q.prompt})" for q in rules.questions if q.code in missing),
            kind="invalid",
            details={"missing": missing},
        )
    for question in rules.questions:
        if given[question.code] != normalise_answer(question.trigger_answer):
            continue
        if question.effect == "refuse":
            raise RuleViolation(
                "screening_refused",
                f"not eligible for {rules.product_code}: {question.reason}",
                details={"question": question.code},
            )
        until = day + timedelta(days=question.defer_days or 0)
        raise RuleViolation(
            "screening_deferred",
            f"deferred until {until.isoformat()}: {question.reason}",
            details={"question": question.code, "until": until.isoformat()},
        )
