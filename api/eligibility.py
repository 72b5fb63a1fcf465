"""Eligibility rules as data (minimum age per product, screening questions) and the check
the booking and documenting routes run before they reach the journey workflow."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Manager, Reader, SessionDep
from api.errors import Conflict, NotFound
from records.audit import audit
from records.eligibility import MinimumAge, ScreeningQuestion, screening_questions
from records.products import current_product
from services.eligibility import check_eligible as check_eligible  # api.doses finds it here

router = APIRouter(prefix="/eligibility", tags=["eligibility"])

ProductCode = Annotated[str, Path(min_length=1, max_length=40)]
Screening = dict[Annotated[str, Field(max_length=60)], Annotated[str, Field(max_length=20)]]


class QuestionIn(BaseModel):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_\-]+$")
    prompt: str = Field(min_length=1, max_length=500)
    prompt_es: str | None = Field(default=None, min_length=1, max_length=500, description="in Spanish")
    product_code: str | None = Field(default=None, max_length=40, description="none: every product")
    trigger_answer: str = Field(default="yes", min_length=1, max_length=20)
    effect: Literal["refuse", "defer"]
    defer_days: int | None = Field(default=None, ge=1, le=3650)
    reason: str = Field(min_length=1, max_length=500, description="what the person is told")
    reason_es: str | None = Field(default=None, min_length=1, max_length=500, description="in Spanish")

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


async def _product(db: AsyncSession, code: str) -> str:
    if await current_product(db, code) is None:
        raise NotFound(f"no product {code!r}")
    return code


@router.get("/{product_code}", response_model=EligibilityOut)
async def read_rules(product_code: ProductCode, actor: Reader, db: SessionDep) -> EligibilityOut:
    """The minimum age and the screening questions that apply to a product."""
    await _product(db, product_code)
    age = await db.get(MinimumAge, product_code)
    return EligibilityOut(
        product_code=product_code,
        minimum_age_years=age.years if age else None,
        questions=[QuestionOut.model_validate(q) for q in await screening_questions(db, product_code)],
    )


@router.put("/{product_code}/minimum-age", response_model=EligibilityOut)
async def set_minimum_age(
    product_code: ProductCode, body: MinimumAgeIn, actor: Manager, db: SessionDep
) -> EligibilityOut:
    await _product(db, product_code)
    row = await db.get(MinimumAge, product_code)
    before = row.years if row else None
    if row is None:
        row = MinimumAge(product_code=product_code, years=body.years)
        db.add(row)
    row.years = body.years
    await db.flush()
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="minimum_age",
        entity_id=product_code,
        action="set",
        changes={"years": [before, body.years]},
    )
    return await read_rules(product_code, actor, db)


@router.post("/questions", response_model=QuestionOut, status_code=201)
async def add_question(body: QuestionIn, actor: Manager, db: SessionDep) -> QuestionOut:
    """A screening question; the answer `trigger_answer` refuses or defers the person."""
    if body.product_code is not None:
        await _product(db, body.product_code)
    if (await db.execute(select(ScreeningQuestion).where(ScreeningQuestion.code == body.code))).first():
        raise Conflict(f"a screening question {body.code!r} exists", code="question_exists")
    question = ScreeningQuestion(**body.model_dump(), active=True)
    db.add(question)
    await db.flush()
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="screening_question",
        entity_id=question.id,
        action="add",
        changes={k: [None, v] for k, v in body.model_dump().items()},
    )
    return QuestionOut.model_validate(question)
