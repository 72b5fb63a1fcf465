"""Eligibility rules as data (minimum age per product, screening questions); the check the
booking and documenting services run lives in services/eligibility.py."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Manager, Reader, SessionDep
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
    product_code: ProductCode, body: MinimumAgeIn, actor: Manager, db: SessionDep
) -> EligibilityOut:
    await service.set_minimum_age(
        db, product_code=product_code, years=body.years, actor=actor.actor, location_id=actor.location.id
    )
    return await _rules(db, product_code)


@router.post("/questions", response_model=QuestionOut, status_code=201)
async def add_question(body: QuestionIn, actor: Manager, db: SessionDep) -> QuestionOut:
    """A screening question; the answer `trigger_answer` refuses or defers the person."""
    question = await service.add_question(
        db, fields=body.model_dump(), actor=actor.actor, location_id=actor.location.id
    )
    return QuestionOut.model_validate(question)
