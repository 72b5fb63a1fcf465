"""The location manager's dashboard and the programme (equity) report: the numbers of each
chart, one aggregate query each (records/reports.py), folded into rows with every day, week,
product and category present (zeros included) so the chart, its table and its CSV agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import to_local
from domain.refusals import Invalid
from domain.reporting import (
    AGE_BANDS,
    DIMENSIONS,
    UNKNOWN,
    age_band,
    coming_days,
    past_days,
    past_weeks,
    rate,
)
from domain.scheduling import AppointmentStatus
from records import reports
from records.db import utcnow
from records.locations import Location
from records.products import InventoryLot

DOSE_DAYS = 56  # doses given per day: the last 8 weeks
CAPACITY_DAYS = 14  # bookings against capacity: the next 14 days
NO_SHOW_WEEKS = 8
EXPIRY_DAYS = 30  # lots expiring within this many days are listed
REPORT_WEEKS = (4, 8, 12, 26, 52)  # the programme report's choice of span


@dataclass(frozen=True)
class DosesOnDay:
    day: date
    by_product: dict[str, int]  # every product the chart shows, zeros included

    @property
    def total(self) -> int:
        return sum(self.by_product.values())


@dataclass(frozen=True)
class CapacityOnDay:
    day: date
    capacity: int
    booked: int
    held: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked - self.held, 0)


@dataclass(frozen=True)
class NoShowWeek:
    week: date  # its Monday
    appointments: int  # whose time has come, cancellations left out
    missed: int

    @property
    def rate(self) -> float:
        return rate(self.missed, self.appointments)


@dataclass(frozen=True)
class ProductStock:
    product_code: str
    on_hand: int  # in lots not yet expired
    expiring: int  # of which in lots expiring within EXPIRY_DAYS
    booked: int  # active appointments within CAPACITY_DAYS

    @property
    def short_by(self) -> int:
        return max(self.booked - self.on_hand, 0)


@dataclass(frozen=True)
class LocationDashboard:
    today: date
    products: list[str]  # the product codes the doses chart shows, in order
    doses: list[DosesOnDay]
    capacity: list[CapacityOnDay]
    no_shows: list[NoShowWeek]
    stock: list[ProductStock]
    expiring_lots: list[InventoryLot]
    waitlist: int


async def location_dashboard(
    db: AsyncSession, location: Location, *, now: datetime | None = None
) -> LocationDashboard:
    now = now or utcnow()
    zone = location.time_zone
    today = to_local(now, zone).date()

    dose_days = past_days(today, DOSE_DAYS, zone)
    dose_rows = await reports.doses_per_period(db, location.id, dose_days.bounds)
    products = sorted({product for _, product, _ in dose_rows})
    given = {(period, product): n for period, product, n in dose_rows}
    doses = [
        DosesOnDay(day, {p: int(given.get((i, p), 0)) for p in products})
        for i, day in enumerate(dose_days.starts)
    ]

    capacity_days = coming_days(today, CAPACITY_DAYS, zone)
    slots = {row[0]: row for row in await reports.capacity_per_period(db, location.id, capacity_days.bounds)}
    capacity = []
    for i, day in enumerate(capacity_days.starts):
        _, _count, seats, booked, held = slots.get(i, (i, 0, 0, 0, 0))
        capacity.append(CapacityOnDay(day, int(seats), int(booked), int(held)))

    # Weeks up to now: an appointment still to come this week is not a no-show yet.
    weeks = past_weeks(today, NO_SHOW_WEEKS, zone)
    outcome_bounds = (*weeks.bounds[:-1], now)
    outcomes = await reports.outcomes_per_period(db, location.id, outcome_bounds)
    due: dict[int, int] = {}
    missed: dict[int, int] = {}
    for period, status, n in outcomes:
        if status != AppointmentStatus.cancelled.value:
            due[period] = due.get(period, 0) + int(n)
        if status == AppointmentStatus.missed.value:
            missed[period] = missed.get(period, 0) + int(n)
    no_shows = [NoShowWeek(week, due.get(i, 0), missed.get(i, 0)) for i, week in enumerate(weeks.starts)]

    expiring_before = today + timedelta(days=EXPIRY_DAYS)
    measures: dict[str, dict[str, int]] = {}
    for product, measure, n in await reports.stock_and_demand(
        db, location.id, today, expiring_before, now, capacity_days.bounds[-1]
    ):
        measures.setdefault(product, {})[measure] = int(n)
    stock = [
        ProductStock(code, m.get("on_hand", 0), m.get("expiring", 0), m.get("booked", 0))
        for code, m in sorted(measures.items())
    ]
    return LocationDashboard(
        today=today,
        products=products,
        doses=doses,
        capacity=capacity,
        no_shows=no_shows,
        stock=stock,
        expiring_lots=await reports.expiring_lots(db, location.id, today, expiring_before),
        waitlist=await reports.waitlist_length(db, location.id),
    )


@dataclass(frozen=True)
class EquityReport:
    dimension: str
    weeks: list[date]  # Mondays
    categories: list[str]  # codes (race, ethnicity, sex), band names or counties, in order
    counts: dict[tuple[int, str], int]  # (week index, category) -> doses

    def doses(self, week_index: int, category: str) -> int:
        return self.counts.get((week_index, category), 0)

    def week_total(self, week_index: int) -> int:
        return sum(self.doses(week_index, c) for c in self.categories)


def check_report(dimension: str, weeks: int) -> None:
    if dimension not in DIMENSIONS:
        raise Invalid(
            f"report by one of: {', '.join(DIMENSIONS)}", code="unknown_dimension", dimension=dimension
        )
    if weeks not in REPORT_WEEKS:
        raise Invalid(
            f"weeks must be one of {', '.join(map(str, REPORT_WEEKS))}", code="unknown_span", weeks=weeks
        )


async def equity_report(
    db: AsyncSession,
    *,
    dimension: str,
    weeks: int,
    time_zone: str,
    location_id: int | None,
    now: datetime | None = None,
) -> EquityReport:
    """Doses given per week by the recipient's race, ethnicity, age band, sex or county; at one
    location, or across all of them when `location_id` is None (the programme administrator)."""
    check_report(dimension, weeks)
    today = to_local(now or utcnow(), time_zone).date()
    span = past_weeks(today, weeks, time_zone)
    rows = await reports.doses_by_dimension(db, dimension, span.bounds, location_id)
    counts: dict[tuple[int, str], int] = {}
    for period, category, n in rows:
        key = (int(period), age_band(int(category)) if dimension == "age_band" else str(category))
        counts[key] = counts.get(key, 0) + int(n)
    found = {category for _, category in counts}
    if dimension == "age_band":
        categories = [name for name, _bottom, _top in AGE_BANDS]
    else:
        # The most doses first, "unknown" last: the order a reader compares groups in.
        totals = {c: sum(n for (_, cat), n in counts.items() if cat == c) for c in found}
        categories = sorted(found - {UNKNOWN}, key=lambda c: (-totals[c], c)) + (
            [UNKNOWN] if UNKNOWN in found else []
        )
    return EquityReport(dimension=dimension, weeks=list(span.starts), categories=categories, counts=counts)
