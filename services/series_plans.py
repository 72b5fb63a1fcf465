"""Which series a dose or a booking belongs to, and whether its schedule allows it.

A recipient has one open series per vaccine family (COVID-19, influenza, mpox), a journey each. A
series that has doses checks its own next dose (the journey holds its rule: windows, same product).
A new series is where the schedule decides: the first dose's product fits the person's age band on
the day, a booster or an additional primary dose is due (the interval after the family's last dose,
the product allowed: mix and match where the schedule says), else a refusal that names the rule and
the date the person becomes due. The journey then starts with the rule the schedule gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import ProductRule, to_local
from domain.journey_messages import JourneyStatus, journey_id
from domain.refusals import NotFound
from domain.schedules import Due, check_dose, family_of, newest, next_due, series_rule
from domain.settings import Settings
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import Product
from records.recipients import Recipient
from records.schedules import active_conditions, all_schedules, family_history

COVID = "covid19"  # the family of the series from before schedules were data


@dataclass(frozen=True)
class SeriesPlan:
    journey_id: str
    series_no: int
    rule: ProductRule  # what the request carries: a new series starts with it
    # False: the series has no journey row yet, so nothing (dose, appointment) is recorded under
    # its id: the journey's activity writes the row before either.
    begun: bool = True


async def open_series(db: AsyncSession, recipient_id: int, family: str | None) -> tuple[str, int, bool]:
    """The recipient's open series of ``family`` (None: any), or the number the next series gets
    (one query); and whether the series has begun (its journey row exists)."""
    matches = Journey.status == JourneyStatus.active.value
    if family == COVID:
        matches = matches & ((Journey.family == family) | Journey.family.is_(None))
    elif family is not None:
        matches = matches & (Journey.family == family)
    found, last = (
        await db.execute(
            select(func.max(case((matches, Journey.series_no))), func.max(Journey.series_no)).where(
                Journey.recipient_id == recipient_id
            )
        )
    ).one()
    if found is None:
        series_no = (last or 0) + 1
        return journey_id(recipient_id, series_no), series_no, False
    return journey_id(recipient_id, found), found, True


async def plan_series(
    db: AsyncSession,
    settings: Settings,
    *,
    recipient_id: int,
    product: Product,
    at: datetime,
    location_id: int,
    booking: bool,
) -> SeriesPlan:
    """The series a dose of ``product`` at ``at`` goes to, and the rule it carries; refuses (409) what
    the schedule does not allow when the dose would start a series."""
    schedules = await all_schedules(db)
    family = family_of(newest(schedules).values(), product.code)
    jid, series_no, begun = await open_series(db, recipient_id, family)
    base = product.rule()
    if family is None:
        return SeriesPlan(jid, series_no, base, begun)
    if begun:
        given_here = (
            await db.execute(select(Dose.id).where(Dose.journey_id == jid, Dose.removed.is_(False)).limit(1))
        ).first()
        if given_here is not None:
            return SeriesPlan(jid, series_no, base)  # the series' journey checks its next dose
    recipient = await db.get(Recipient, recipient_id)
    location = await db.get(Location, location_id)
    if recipient is None or location is None:
        raise NotFound("no such recipient")
    of_family = [s for s in schedules if s.family == family]
    conditions = [c.condition for c in await active_conditions(db, recipient_id)]
    due = next_due(
        of_family,
        await family_history(db, recipient_id, of_family),
        birth=recipient.date_of_birth,
        conditions=conditions,
        day_seconds=settings.day_seconds,
        product=product.code,
        on=to_local(at, location.time_zone).date(),
    )
    check_dose(
        due,
        product.code,
        at,
        birth=recipient.date_of_birth,
        family=family,
        booking=booking,
        day_seconds=settings.day_seconds,
    )
    assert due is not None  # check_dose refused otherwise
    return SeriesPlan(jid, series_no, series_rule(due, product.code, conditions, base), begun)


async def family_next_due(db: AsyncSession, settings: Settings, journey: Journey) -> Due | None:
    """The next dose of the family of ``journey`` (a complete series: what follows it)."""
    recipient = await db.get(Recipient, journey.recipient_id)
    if recipient is None:
        return None
    schedules = await all_schedules(db, journey.family or COVID)
    return next_due(
        schedules,
        await family_history(db, journey.recipient_id, schedules),
        birth=recipient.date_of_birth,
        conditions=[c.condition for c in await active_conditions(db, journey.recipient_id)],
        day_seconds=settings.day_seconds,
    )


async def next_dues(db: AsyncSession, settings: Settings, recipient_id: int, on: date) -> list[Due]:
    """Each vaccine family's next dose for the recipient (a first dose where their age band on
    ``on`` has one)."""
    recipient = await db.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    schedules = await all_schedules(db)
    conditions = [c.condition for c in await active_conditions(db, recipient_id)]
    dues = []
    for family in sorted({s.family for s in newest(schedules).values()}):
        of_family = [s for s in schedules if s.family == family]
        due = next_due(
            of_family,
            await family_history(db, recipient_id, of_family),
            birth=recipient.date_of_birth,
            conditions=conditions,
            day_seconds=settings.day_seconds,
            on=on,
        )
        if due is not None:
            dues.append(due)
    return dues
