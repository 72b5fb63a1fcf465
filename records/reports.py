"""The dashboard's and the programme report's counts: one aggregate query per chart, bucketed in
the database by local day or week (UTC boundaries computed by domain.reporting, so DST is exact)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, case, func, literal, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from domain.reporting import UNKNOWN
from domain.scheduling import ACTIVE_ENTRY, ACTIVE_STATUSES
from records.journeys import Dose
from records.products import InventoryLot
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry

Rows = list[tuple[Any, ...]]


def period_of(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the period [bounds[i], bounds[i+1]) an instant falls in, as a balanced CASE
    tree (log2 comparisons a row); the caller keeps the instant within bounds[0]..bounds[-1]."""

    def split(lo: int, hi: int) -> ColumnElement[int]:
        if hi - lo == 1:
            return literal_column(str(lo), Integer)
        mid = (lo + hi) // 2
        return case((column < bounds[mid], split(lo, mid)), else_=split(mid, hi))

    return split(0, len(bounds) - 1)


def _within(column: Any, bounds: Sequence[datetime]) -> list[ColumnElement[bool]]:
    return [column >= bounds[0], column < bounds[-1]]


class age_in_years(FunctionElement[int]):  # noqa: N801 - a SQL function reads like one
    """Whole years from a birth date to an instant (the recipient's age when the dose was given)."""

    type = Integer()
    inherit_cache = True


@compiles(age_in_years, "sqlite")
def _age_sqlite(element: age_in_years, compiler: Any, **kw: Any) -> str:
    birth, at = (compiler.process(arg, **kw) for arg in element.clauses)
    return (
        f"(CAST(strftime('%Y', {at}) AS INTEGER) - CAST(strftime('%Y', {birth}) AS INTEGER)"
        f" - (strftime('%m-%d', {at}) < strftime('%m-%d', {birth})))"
    )


@compiles(age_in_years, "postgresql")
def _age_postgresql(element: age_in_years, compiler: Any, **kw: Any) -> str:
    birth, at = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(date_part('year', age(CAST({at} AS date), {birth})) AS INTEGER)"


def _dimension(name: str) -> ColumnElement[Any]:
    columns = {
        "race": Recipient.race,
        "ethnicity": Recipient.ethnicity,
        "sex": Recipient.sex,
        "county": Recipient.county,
    }
    if name == "age_band":
        # Grouped by the age in years (computed once a row); the service folds ages into bands.
        return age_in_years(Recipient.date_of_birth, Dose.given_at)
    return func.coalesce(columns[name], literal(UNKNOWN, String))


async def _grouped(db: AsyncSession, inner: Any, keys: Sequence[str], sums: Sequence[str] = ()) -> Rows:
    """Groups a subquery by its `keys` columns: count(*) then the sum of each of `sums`.
    (A subquery, so PostgreSQL groups by the bucket's column, not a repeated parameterized CASE.)"""
    sub = inner.subquery()
    group = [sub.c[k] for k in keys]
    measures = [func.count()] + [func.coalesce(func.sum(sub.c[s]), 0) for s in sums]
    return [tuple(row) for row in (await db.execute(select(*group, *measures).group_by(*group))).all()]


async def doses_per_period(db: AsyncSession, location_id: int, bounds: Sequence[datetime]) -> Rows:
    """(period, product_code, doses) for the doses given at a location (removed ones do not count)."""
    inner = select(
        period_of(Dose.given_at, bounds).label("period"), Dose.product_code.label("product")
    ).where(Dose.location_id == location_id, Dose.removed.is_(False), *_within(Dose.given_at, bounds))
    return await _grouped(db, inner, ["period", "product"])


async def capacity_per_period(db: AsyncSession, location_id: int, bounds: Sequence[datetime]) -> Rows:
    """(period, slots, open capacity, booked, held) of the slots starting in each period."""
    inner = select(
        period_of(Slot.start_at, bounds).label("period"),
        case((Slot.is_open.is_(True), Slot.capacity), else_=0).label("capacity"),
        Slot.booked.label("booked"),
        Slot.held.label("held"),
    ).where(Slot.location_id == location_id, *_within(Slot.start_at, bounds))
    return await _grouped(db, inner, ["period"], ["capacity", "booked", "held"])


async def outcomes_per_period(db: AsyncSession, location_id: int, bounds: Sequence[datetime]) -> Rows:
    """(period, status, appointments) of the appointments whose time fell in each period."""
    inner = select(
        period_of(Appointment.start_at, bounds).label("period"), Appointment.status.label("status")
    ).where(Appointment.location_id == location_id, *_within(Appointment.start_at, bounds))
    return await _grouped(db, inner, ["period", "status"])


async def stock_and_demand(
    db: AsyncSession,
    location_id: int,
    today: date,
    expiring_before: date,
    demand_from: datetime,
    demand_to: datetime,
) -> Rows:
    """(product_code, measure, doses): "on_hand" in usable lots, "expiring" (the part of it that
    expires before `expiring_before`) and "booked" (active appointments in the demand window)."""
    lots = [
        InventoryLot.location_id == location_id,
        InventoryLot.on_hand > 0,
        InventoryLot.expires_on >= today,
    ]
    on_hand = (
        select(
            InventoryLot.product_code,
            literal("on_hand", String).label("measure"),
            func.sum(InventoryLot.on_hand),
        )
        .where(*lots)
        .group_by(InventoryLot.product_code)
    )
    expiring = (
        select(
            InventoryLot.product_code,
            literal("expiring", String).label("measure"),
            func.sum(InventoryLot.on_hand),
        )
        .where(*lots, InventoryLot.expires_on < expiring_before)
        .group_by(InventoryLot.product_code)
    )
    booked = (
        select(Appointment.product_code, literal("booked", String).label("measure"), func.count())
        .where(
            Appointment.location_id == location_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start_at >= demand_from,
            Appointment.start_at < demand_to,
        )
        .group_by(Appointment.product_code)
    )
    return [tuple(row) for row in (await db.execute(union_all(on_hand, expiring, booked))).all()]


async def expiring_lots(db: AsyncSession, location_id: int, today: date, before: date) -> list[InventoryLot]:
    rows = await db.execute(
        select(InventoryLot)
        .where(
            InventoryLot.location_id == location_id,
            InventoryLot.on_hand > 0,
            InventoryLot.expires_on >= today,
            InventoryLot.expires_on < before,
        )
        .order_by(InventoryLot.expires_on, InventoryLot.lot_number)
    )
    return list(rows.scalars())


async def waitlist_length(db: AsyncSession, location_id: int) -> int:
    """People waiting (or holding an offer) on the location's waitlist."""
    found = await db.execute(
        select(func.count()).where(
            WaitlistEntry.location_id == location_id, WaitlistEntry.status.in_(ACTIVE_ENTRY)
        )
    )
    return int(found.scalar_one())


async def doses_by_dimension(
    db: AsyncSession, dimension: str, bounds: Sequence[datetime], location_id: int | None
) -> Rows:
    """(period, category, doses) of the doses given in each period by the recipient's `dimension`
    (race, ethnicity, sex, county; for age_band the category is the age in years); every
    location when `location_id` is None."""
    where = [Dose.removed.is_(False), *_within(Dose.given_at, bounds)]
    if location_id is not None:
        where.append(Dose.location_id == location_id)
    inner = (
        select(period_of(Dose.given_at, bounds).label("period"), _dimension(dimension).label("category"))
        .select_from(Dose)
        .join(Recipient, Recipient.id == Dose.recipient_id)
        .where(*where)
    )
    return await _grouped(db, inner, ["period", "category"])
