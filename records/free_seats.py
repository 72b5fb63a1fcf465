"""The finder's free-seat summary: free seats per location, local day and product, moved in the
same transaction as every write that changes a slot's free seats (a booking, a cancellation, a
hold taken or given back, a slot published, closed or resized), so the public finder reads a few
small rows instead of adding up slots on every request.

A slot carries its `local_day` (the location's calendar day of its start), set when published;
slots without one (older rows, before the migration's backfill) are simply not summarised.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Integer, String, column, select, table, true, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base

# The columns of `slots` the summary reads (records.scheduling imports this module, not back).
_slots = table(
    "slots",
    column("id", Integer),
    column("location_id", Integer),
    column("local_day", Date),
    column("product_code", String),
    column("is_open", Boolean),
    column("capacity", Integer),
    column("booked", Integer),
    column("held", Integer),
)


class FreeSeatDay(Base):
    __tablename__ = "free_seat_days"

    location_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    free_seats: Mapped[int] = mapped_column(Integer, default=0)


async def shift_free_seats(db: AsyncSession, slot_id: int, delta: int) -> None:
    """Moves the summary of an open slot's day by `delta` seats (a closed slot offers none)."""
    if delta == 0:
        return
    of_slot = select(_slots.c.location_id, _slots.c.local_day, _slots.c.product_code).where(
        _slots.c.id == slot_id, _slots.c.is_open == true()
    )
    await db.execute(
        update(FreeSeatDay)
        .where(tuple_(FreeSeatDay.location_id, FreeSeatDay.day, FreeSeatDay.product_code).in_(of_slot))
        .values(free_seats=FreeSeatDay.free_seats + delta)
        .execution_options(synchronize_session=False)
    )


async def drop_free_seats(db: AsyncSession, slot_id: int) -> None:
    """A slot just closed (its row already updated in this transaction): its free seats leave its day."""
    key = select(_slots.c.location_id, _slots.c.local_day, _slots.c.product_code).where(
        _slots.c.id == slot_id
    )
    free = (
        select(_slots.c.capacity - _slots.c.booked - _slots.c.held)
        .where(_slots.c.id == slot_id)
        .scalar_subquery()
    )
    await db.execute(
        update(FreeSeatDay)
        .where(tuple_(FreeSeatDay.location_id, FreeSeatDay.day, FreeSeatDay.product_code).in_(key))
        .values(free_seats=FreeSeatDay.free_seats - free)
        .execution_options(synchronize_session=False)
    )


async def add_free_seats(
    db: AsyncSession, location_id: int, day: date, product_code: str, seats: int
) -> None:
    """A published slot's seats join its day (the day's row is made on first use)."""
    key = (
        FreeSeatDay.location_id == location_id,
        FreeSeatDay.day == day,
        FreeSeatDay.product_code == product_code,
    )
    moved = await db.execute(
        update(FreeSeatDay)
        .where(*key)
        .values(free_seats=FreeSeatDay.free_seats + seats)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1:  # type: ignore[attr-defined]
        return
    try:
        async with db.begin_nested():
            db.add(FreeSeatDay(location_id=location_id, day=day, product_code=product_code, free_seats=seats))
    except IntegrityError:  # another slot of the same day was published at the same moment
        await db.execute(
            update(FreeSeatDay)
            .where(*key)
            .values(free_seats=FreeSeatDay.free_seats + seats)
            .execution_options(synchronize_session=False)
        )


async def free_days(db: AsyncSession, location_id: int, first: date, last: date) -> list[tuple[date, int]]:
    """Days from `first` to `last` with free seats (all products), soonest first."""
    rows = await db.execute(
        select(FreeSeatDay.day, FreeSeatDay.free_seats).where(
            FreeSeatDay.location_id == location_id,
            FreeSeatDay.day >= first,
            FreeSeatDay.day <= last,
            FreeSeatDay.free_seats > 0,
        )
    )
    seats: dict[date, int] = {}
    for day, free in rows.all():
        seats[day] = seats.get(day, 0) + int(free)
    return sorted(seats.items())
