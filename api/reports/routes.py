"""The dashboard's and the programme report's numbers as JSON (the pages draw the same)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Manager, SessionDep
from api.reports.deps import ScopeDep
from services.dashboard import equity_report, location_dashboard

router = APIRouter(prefix="/reports", tags=["reports"])


class DosesDayOut(BaseModel):
    date: date
    by_product: dict[str, int]
    total: int


class CapacityDayOut(BaseModel):
    date: date
    capacity: int
    booked: int
    held: int
    free: int


class NoShowWeekOut(BaseModel):
    week_of: date
    appointments: int
    missed: int
    rate_percent: float


class ProductStockOut(BaseModel):
    product_code: str
    on_hand: int
    booked_next_14_days: int
    short_by: int
    expiring_within_30_days: int


class ExpiringLotOut(BaseModel):
    lot_number: str
    product_code: str
    expires_on: date
    on_hand: int


class DashboardOut(BaseModel):
    location_code: str
    today: date
    doses_per_day: list[DosesDayOut]
    capacity_per_day: list[CapacityDayOut]
    no_shows_per_week: list[NoShowWeekOut]
    stock: list[ProductStockOut]
    expiring_lots: list[ExpiringLotOut]
    waitlist: int


class EquityWeekOut(BaseModel):
    week_of: date
    doses: dict[str, int]  # category -> doses (every category, zeros included)
    total: int


class EquityOut(BaseModel):
    location_code: str | None  # None: every location
    dimension: str
    categories: list[str]
    weeks: list[EquityWeekOut]


@router.get("/dashboard", response_model=DashboardOut)
async def dashboard(actor: Manager, db: SessionDep) -> DashboardOut:
    """The location manager's dashboard of the active location."""
    board = await location_dashboard(db, actor.location)
    return DashboardOut(
        location_code=actor.location.code,
        today=board.today,
        doses_per_day=[DosesDayOut(date=d.day, by_product=d.by_product, total=d.total) for d in board.doses],
        capacity_per_day=[
            CapacityDayOut(date=c.day, capacity=c.capacity, booked=c.booked, held=c.held, free=c.free)
            for c in board.capacity
        ],
        no_shows_per_week=[
            NoShowWeekOut(week_of=w.week, appointments=w.appointments, missed=w.missed, rate_percent=w.rate)
            for w in board.no_shows
        ],
        stock=[
            ProductStockOut(
                product_code=s.product_code,
                on_hand=s.on_hand,
                booked_next_14_days=s.booked,
                short_by=s.short_by,
                expiring_within_30_days=s.expiring,
            )
            for s in board.stock
        ],
        expiring_lots=[
            ExpiringLotOut(
                lot_number=lot.lot_number,
                product_code=lot.product_code,
                expires_on=lot.expires_on,
                on_hand=lot.on_hand,
            )
            for lot in board.expiring_lots
        ],
        waitlist=board.waitlist,
    )


@router.get("/equity", response_model=EquityOut)
async def equity(
    scope: ScopeDep,
    db: SessionDep,
    by: Annotated[str, Query(max_length=20, description="race, ethnicity, age_band, sex or county")] = "race",
    weeks: Annotated[int, Query(ge=1, le=520, description="4, 8, 12, 26 or 52")] = 12,
) -> EquityOut:
    """Doses per week by a recipient attribute: a manager's location, or (an administrator) every
    location or the one named by `location`."""
    report = await equity_report(
        db, dimension=by, weeks=weeks, time_zone=scope.time_zone, location_id=scope.location_id
    )
    return EquityOut(
        location_code=scope.location.code if scope.location else None,
        dimension=report.dimension,
        categories=report.categories,
        weeks=[
            EquityWeekOut(
                week_of=w,
                doses={c: report.doses(i, c) for c in report.categories},
                total=report.week_total(i),
            )
            for i, w in enumerate(report.weeks)
        ],
    )
