"""Eligibility: the minimum age per product and the screening questions, as data, and the
check every booking and documented dose runs before it reaches the journey workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import RuleViolation, to_local
from domain.eligibility import check_eligibility
from domain.refusals import Conflict, Invalid, NotFound
from records.audit import audit
from records.eligibility import MinimumAge, ScreeningQuestion, eligibility_rules, screening_questions
from records.locations import Location
from records.products import current_product
from records.recipients import Recipient


async def check_eligible(
    db: AsyncSession,
    *,
    recipient_id: int,
    product_code: str,
    location_id: int,
    at: datetime,
    screening: dict[str, str] | None,
) -> None:
    """Refuses (409, or 422 for incomplete answers) with the reason when the rules say no."""
    recipient = await db.get(Recipient, recipient_id)
    location = await db.get(Location, location_id)
    if recipient is None or location is None:
        raise NotFound("no such recipient")
    rules = await eligibility_rules(db, product_code)
    try:
        check_eligibility(rules, recipient.date_of_birth, to_local(at, location.time_zone).date(), screening)
    except RuleViolation as violation:
        error = Conflict if violation.is_conflict else Invalid
        raise error(violation.message, code=violation.code, **violation.details) from None


async def require_product(db: AsyncSession, code: str) -> str:
    if await current_product(db, code) is None:
        raise NotFound(f"no product {code!r}")
    return code


async def rules_of(db: AsyncSession, product_code: str) -> tuple[int | None, list[ScreeningQuestion]]:
    """The minimum age and the screening questions that apply to a product."""
    await require_product(db, product_code)
    age = await db.get(MinimumAge, product_code)
    return (age.years if age else None), await screening_questions(db, product_code)


# The rules below are programme-wide (every location books and documents by them): only a
# programme administrator changes them (the API's `Admin`), and each change is audited with no
# location.


async def set_minimum_age(db: AsyncSession, *, product_code: str, years: int, actor: str) -> None:
    await require_product(db, product_code)
    row = await db.get(MinimumAge, product_code)
    before = row.years if row else None
    if row is None:
        row = MinimumAge(product_code=product_code, years=years)
        db.add(row)
    row.years = years
    await db.flush()
    audit(
        db,
        actor=actor,
        entity="minimum_age",
        entity_id=product_code,
        action="set",
        changes={"years": [before, years]},
    )


async def add_question(db: AsyncSession, *, fields: dict[str, Any], actor: str) -> ScreeningQuestion:
    """A screening question; the answer `trigger_answer` refuses or defers the person."""
    if fields.get("product_code") is not None:
        await require_product(db, fields["product_code"])
    if (await db.execute(select(ScreeningQuestion).where(ScreeningQuestion.code == fields["code"]))).first():
        raise Conflict(f"a screening question {fields['code']!r} exists", code="question_exists")
    question = ScreeningQuestion(**fields, active=True)
    db.add(question)
    await db.flush()
    audit(
        db,
        actor=actor,
        entity="screening_question",
        entity_id=question.id,
        action="add",
        changes={k: [None, v] for k, v in fields.items()},
    )
    return question


async def retire_question(db: AsyncSession, *, question_id: int, actor: str) -> ScreeningQuestion:
    """A screening question is no longer asked (one added by mistake is undone this way); the row
    stays, so answers recorded with it keep their meaning. Retiring it again changes nothing."""
    question = await db.get(ScreeningQuestion, question_id)
    if question is None:
        raise NotFound("no such screening question")
    if question.active:
        question.active = False
        audit(
            db,
            actor=actor,
            entity="screening_question",
            entity_id=question.id,
            action="retire",
            changes={"active": [True, False]},
        )
    return question
