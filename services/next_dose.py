"""The recipient's next doses, as the front desk reads them ("dose 2 due from 27 Dec,
recommended by 17 Jan — book it"). Read from the same services that decide what a booking may
take (services.scheduling.bookable_slots): each vaccine family's next due dose from the
schedules (services.series_plans.next_dues), and for a product no schedule names, its own rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import next_dose_window
from domain.schedules import BOOSTER
from domain.settings import Settings
from records.journeys import Dose
from records.products import Product
from records.schedules import scheduled_products
from services.catalog import product_names
from services.series_plans import next_dues


@dataclass(frozen=True)
class NextDose:
    """One next dose: its number (in its family), the products it may be, and its window
    (earliest, recommended latest; None for a first dose, which may be any day)."""

    dose_number: int
    product_names: list[str]
    earliest: datetime | None
    recommended_latest: datetime | None
    booster: bool = False


@dataclass(frozen=True)
class SeriesState:
    given: int  # doses given (not removed), any series
    last_product: str | None  # the name of the last one's product
    next: list[NextDose]

    @property
    def complete(self) -> bool:
        return self.given > 0 and not self.next


async def series_state(
    db: AsyncSession, settings: Settings, given: list[Dose], recipient_id: int, on: date
) -> SeriesState:
    """Where the recipient stands after the doses given (oldest first), on the day `on`."""
    names = await product_names(db)
    last = names.get(given[-1].product_code, given[-1].product_code) if given else None
    scheduled = await scheduled_products(db)
    unscheduled = [d for d in given if d.product_code not in scheduled]
    if unscheduled:  # a product no schedule names: its own rule, as bookable_slots reads it
        coming = await _by_product_rule(db, settings, unscheduled, names)
        return SeriesState(len(given), last, [coming] if coming else [])
    if not given:  # any family their age band allows may start: one step, "dose 1"
        return SeriesState(0, None, [NextDose(1, [], None, None)])
    # The families under way (a family never started is no next step of this series).
    dues = [due for due in await next_dues(db, settings, recipient_id, on) if due.earliest is not None]
    return SeriesState(
        len(given),
        last,
        [
            NextDose(
                due.dose_number,
                [names.get(code, code) for code in due.products],
                due.earliest,
                due.recommended_latest,
                booster=due.kind == BOOSTER,
            )
            for due in dues
        ],
    )


async def _by_product_rule(
    db: AsyncSession, settings: Settings, given: list[Dose], names: dict[str, str]
) -> NextDose | None:
    last = given[-1]
    product = (
        await db.execute(
            select(Product).where(Product.code == last.product_code, Product.version == last.product_version)
        )
    ).scalar_one()
    in_series = [d for d in given if d.journey_id == last.journey_id]
    if len(in_series) >= product.doses:
        return None
    window = next_dose_window(product.rule(), last.given_at, settings.day_seconds)
    return NextDose(
        len(in_series) + 1,
        [names.get(product.code, product.name)],
        window.earliest,
        window.recommended_latest,
    )
