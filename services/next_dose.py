"""The recipient's next dose: which one, of which product, and its booking window. One place
answers it, for the slots a booking may take (services.scheduling.bookable_slots) and for the
"next step" the front desk reads on the recipient page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import next_dose_window
from domain.settings import Settings
from records.journeys import Dose
from records.products import Product


@dataclass(frozen=True)
class NextDose:
    """The series' state after the doses given: `complete`, or the next dose's number and,
    for a later dose, its product and window (earliest, recommended latest; no grace)."""

    dose_number: int
    doses_required: int | None
    product_code: str | None
    product_name: str | None
    earliest: datetime | None
    recommended_latest: datetime | None

    @property
    def complete(self) -> bool:
        return self.doses_required is not None and self.dose_number > self.doses_required


async def next_dose(db: AsyncSession, settings: Settings, given: list[Dose]) -> NextDose:
    """What comes after the doses given (not removed), oldest first: dose 1 of any product when
    none is given; otherwise the series' product and the window its rule sets."""
    if not given:
        return NextDose(1, None, None, None, None, None)
    last = given[-1]
    product = (
        await db.execute(
            select(Product).where(Product.code == last.product_code, Product.version == last.product_version)
        )
    ).scalar_one()
    number = len(given) + 1
    if len(given) >= product.doses:
        return NextDose(number, product.doses, product.code, product.name, None, None)
    window = next_dose_window(product.rule(), last.given_at, settings.day_seconds)
    return NextDose(
        number, product.doses, product.code, product.name, window.earliest, window.recommended_latest
    )
