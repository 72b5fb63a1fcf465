"""Eligibility rules as data: a minimum age per product and screening questions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.eligibility import DEFAULT_MINIMUM_AGES, EligibilityRules, ScreeningRule
from records.db import Base, UTCDateTime, utcnow


class MinimumAge(Base):
    __tablename__ = "minimum_ages"

    product_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    years: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ScreeningQuestion(Base):
    __tablename__ = "screening_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    prompt: Mapped[str] = mapped_column(Text)
    prompt_es: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: the English is shown
    # None: asked for every product.
    product_code: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    # The answer that triggers the effect ("yes" for "have you had a severe reaction...?").
    trigger_answer: Mapped[str] = mapped_column(String(20))
    effect: Mapped[str] = mapped_column(String(10))  # "refuse" or "defer"
    defer_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    reason_es: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def rule(self) -> ScreeningRule:
        return ScreeningRule(
            code=self.code,
            prompt=self.prompt,
            trigger_answer=self.trigger_answer,
            effect=self.effect,  # type: ignore[arg-type]
            defer_days=self.defer_days,
            reason=self.reason,
        )


async def screening_questions(db: AsyncSession, product_code: str) -> list[ScreeningQuestion]:
    """The active screening questions that apply to a product, in the order they are asked."""
    questions = await db.execute(
        select(ScreeningQuestion)
        .where(
            ScreeningQuestion.active.is_(True),
            (ScreeningQuestion.product_code.is_(None)) | (ScreeningQuestion.product_code == product_code),
        )
        .order_by(ScreeningQuestion.id)
    )
    return list(questions.scalars())


async def eligibility_rules(db: AsyncSession, product_code: str) -> EligibilityRules:
    """The rules that apply to a product now."""
    age = await db.get(MinimumAge, product_code)
    return EligibilityRules(
        product_code=product_code,
        minimum_age_years=age.years if age else None,
        questions=tuple(q.rule() for q in await screening_questions(db, product_code)),
    )


async def seed_minimum_ages(db: AsyncSession) -> bool:
    """The default minimum ages (data, editable by managers) that are not there yet."""
    existing = set((await db.execute(select(MinimumAge.product_code))).scalars())
    missing = {code: years for code, years in DEFAULT_MINIMUM_AGES.items() if code not in existing}
    for code, years in missing.items():
        db.add(MinimumAge(product_code=code, years=years))
    return bool(missing)
