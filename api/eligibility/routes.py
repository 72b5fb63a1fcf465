"""Eligibility rules as data (minimum age per product, screening questions); the check the
booking and documenting services run lives in services/eligibility.py. The rules hold at every
location: only a programme administrator changes them."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Admin, Reader, RecordId, SessionDep
from api.eligibility.schemas import EligibilityOut, MinimumAgeIn, ProductCode, QuestionIn, QuestionOut
from services import eligibility as service

router = APIRouter(prefix="/eligibility", tags=["eligibility"])


async def _rules(db: SessionDep, product_code: str) -> EligibilityOut:
    years, questions = await service.rules_of(db, product_code)
    return EligibilityOut(
        product_code=product_code,
        minimum_age_years=years,
        questions=[QuestionOut.model_validate(q) for q in questions],
    )


@router.get("/{product_code}", response_model=EligibilityOut)
async def read_rules(product_code: ProductCode, actor: Reader, db: SessionDep) -> EligibilityOut:
    """The minimum age and the screening questions that apply to a product."""
    return await _rules(db, product_code)


@router.put("/{product_code}/minimum-age", response_model=EligibilityOut)
async def set_minimum_age(
    product_code: ProductCode, body: MinimumAgeIn, admin: Admin, db: SessionDep
) -> EligibilityOut:
    """The minimum age of a product, at every location (programme administrators only)."""
    await service.set_minimum_age(db, product_code=product_code, years=body.years, actor=admin.actor)
    return await _rules(db, product_code)


@router.post("/questions", response_model=QuestionOut, status_code=201)
async def add_question(body: QuestionIn, admin: Admin, db: SessionDep) -> QuestionOut:
    """A screening question every location asks; the answer `trigger_answer` refuses or defers the
    person (programme administrators only)."""
    question = await service.add_question(db, fields=body.model_dump(), actor=admin.actor)
    return QuestionOut.model_validate(question)


@router.post("/questions/{question_id}/retire", response_model=QuestionOut)
async def retire_question(question_id: RecordId, admin: Admin, db: SessionDep) -> QuestionOut:
    """The question is no longer asked anywhere (programme administrators only; again: no change)."""
    question = await service.retire_question(db, question_id=question_id, actor=admin.actor)
    return QuestionOut.model_validate(question)
