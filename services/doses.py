"""Documenting doses (walk-in or at an appointment, at any location), correcting and removing
them, and reading the series.

The lot is checked here (a record of the location); the series rules (dose number, window,
4-day grace, same product) are checked by the journey workflow, which records the dose and
answers with any warning. Routes and portal pages call these same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.dose_rules import check_next_product, to_local
from domain.journey_messages import (
    DocumentRequest,
    DoseChanges,
    EditDoseRequest,
    JourneyInput,
    JourneyStatus,
    JourneyView,
    RemoveDoseRequest,
    journey_id,
)
from domain.refusals import Conflict, Invalid, NotFound
from domain.series import next_product
from domain.settings import Settings
from records.db import transaction, utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import InventoryLot, Product, current_product
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from services.eligibility import check_eligible
from services.journeys import current_series, drive, end_transaction, journey_snapshot, query_view
from services.scheduling import bookable_slots
from services.series_plans import plan_series
from services.temporal import TemporalGateway
from workflows.journey import JourneyWorkflow

# A clock a little ahead of ours must not make "given just now" a future dose.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class NewDose:
    """What the person documenting says about the dose (None: the default)."""

    product_code: str
    lot_number: str
    injection_site: str
    route: str
    dose_number: int | None = None
    administered_by: str | None = None
    given_at: datetime | None = None
    screening: dict[str, str] | None = None


@dataclass(frozen=True)
class Documented:
    dose: Dose
    series_complete: bool


@dataclass(frozen=True)
class DoseEditing:
    """The fields a correction changes (None: unchanged) and why."""

    reason: str
    lot_number: str | None = None
    injection_site: str | None = None
    route: str | None = None
    administered_by: str | None = None
    given_at: datetime | None = None


async def usable_lot(
    db: AsyncSession, location: Location, product_code: str, lot_number: str, given_at: datetime
) -> InventoryLot:
    """The location's lot of this product, not expired on the (local) day the dose was given."""
    lot = (
        await db.execute(
            select(InventoryLot).where(
                InventoryLot.location_id == location.id, InventoryLot.lot_number == lot_number.strip().upper()
            )
        )
    ).scalar_one_or_none()
    if lot is None:
        raise Invalid(
            f"lot {lot_number} is not in this location's inventory",
            code="unknown_lot",
            errors=[{"field": "lot_number", "message": "unknown lot"}],
        )
    if lot.product_code != product_code:
        raise Conflict(
            f"lot {lot.lot_number} is {lot.product_code}, not {product_code}", code="lot_product_mismatch"
        )
    given_on = to_local(given_at, location.time_zone).date()
    if lot.expires_on < given_on:
        raise Conflict(
            f"lot {lot.lot_number} expired on {lot.expires_on.isoformat()}; it cannot be given on "
            f"{given_on.isoformat()}",
            code="lot_expired",
            expires_on=lot.expires_on.isoformat(),
        )
    return lot


def check_product_fits(series: JourneyInput, product_code: str) -> None:
    """Refuses a dose of another product than the series' or its booked appointment's before
    anything else is checked (the journey workflow checks the same rule when it records it)."""
    appointment = series.appointment
    check_next_product(
        series.rule.code if series.doses and series.rule is not None else None,
        appointment.product_code if appointment is not None and appointment.active else None,
        product_code,
    )


async def fresh_dose(sessions: async_sessionmaker[AsyncSession], dose_id: int) -> Dose:
    """The dose as the workflow's activity wrote it (the request's own transaction has ended)."""
    async with transaction(sessions) as db:
        dose = await db.get(Dose, dose_id)
        if dose is None:
            raise NotFound("no such dose")
        return dose


async def documented_with(db: AsyncSession, recipient_id: int, key: str) -> Documented | None:
    """The dose a request with this key documented already. The series' workflow answers a retry
    itself while it runs; this also answers one after the dose completed the series (and its
    workflow closed), which would otherwise go to a new series."""
    dose = (
        (
            await db.execute(
                select(Dose)
                .where(Dose.recipient_id == recipient_id, Dose.idempotency_key == key)
                .order_by(Dose.id)
            )
        )
        .scalars()
        .first()
    )
    if dose is None:
        return None
    journey = await db.get(Journey, dose.journey_id)
    return Documented(dose, journey is not None and journey.status == JourneyStatus.complete)


async def document_dose(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    recipient_id: int,
    location: Location,
    actor: str,
    actor_name: str,
    new: NewDose,
    key: str | None,
) -> Documented:
    """Documents the recipient's next dose given at `location` (walk-in or at their appointment)."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    if key and (earlier := await documented_with(db, recipient_id, key)) is not None:
        return earlier
    given_at = new.given_at or utcnow()
    if given_at > utcnow() + CLOCK_SKEW:
        raise Invalid("a dose cannot be documented before it is given", code="given_in_future")
    product = await current_product(db, new.product_code)
    if product is None:
        raise Invalid(
            f"unknown product {new.product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    plan = await plan_series(
        db,
        settings,
        recipient_id=recipient_id,
        product=product,
        at=given_at,
        location_id=location.id,
        booking=False,
    )
    snapshot = await journey_snapshot(db, settings, recipient_id, plan.series_no)
    check_product_fits(snapshot, product.code)
    lot = await usable_lot(db, location, product.code, new.lot_number, given_at)
    await check_eligible(
        db,
        recipient_id=recipient_id,
        product_code=product.code,
        location_id=location.id,
        at=given_at,
        screening=new.screening,
    )
    request = DocumentRequest(
        rule=plan.rule,
        location_id=location.id,
        lot_number=lot.lot_number,
        expires_on=lot.expires_on,
        injection_site=new.injection_site,
        route=new.route,
        administered_by=new.administered_by or actor_name,
        given_at=given_at,
        idempotency_key=key or f"dose-{utcnow().timestamp()}",
        actor=actor,
        dose_number=new.dose_number,
    )
    await end_transaction(db)
    outcome = await drive(
        temporal, settings, snapshot, JourneyWorkflow.document_dose, request, operation="dose", key=key
    )
    return Documented(await fresh_dose(sessions, outcome.dose.dose_id), outcome.series_complete)


async def recipient_doses(db: AsyncSession, recipient_id: int) -> list[Dose]:
    """Every dose of the recipient, wherever given (removed ones too)."""
    rows = await db.execute(
        select(Dose).where(Dose.recipient_id == recipient_id).order_by(Dose.given_at, Dose.id)
    )
    return list(rows.scalars())


async def _series_snapshot(db: AsyncSession, settings: Settings, dose: Dose) -> JourneyInput:
    journey = await db.get(Journey, dose.journey_id)
    if journey is None:
        raise NotFound("no such dose")
    return await journey_snapshot(db, settings, dose.recipient_id, journey.series_no)


async def edit_dose(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    dose: Dose,
    location: Location,
    actor: str,
    edit: DoseEditing,
) -> Dose:
    """Corrects a documented dose; who and why go to the audit log."""
    if dose.removed:
        raise Conflict("this dose was removed in error; it cannot be edited", code="dose_removed")
    changes = DoseChanges(
        injection_site=edit.injection_site,
        route=edit.route,
        administered_by=edit.administered_by,
        given_at=edit.given_at,
    )
    if edit.lot_number is not None or edit.given_at is not None:
        lot = await usable_lot(
            db,
            location,
            dose.product_code,
            edit.lot_number or dose.lot_number,
            edit.given_at or dose.given_at,
        )
        changes = replace(changes, lot_number=lot.lot_number, expires_on=lot.expires_on)
    snapshot = await _series_snapshot(db, settings, dose)
    await end_transaction(db)
    request = EditDoseRequest(dose_id=dose.id, changes=changes, reason=edit.reason, actor=actor)
    fact = await drive(
        temporal, settings, snapshot, JourneyWorkflow.edit_dose, request, operation="edit-dose", key=None
    )
    return await fresh_dose(sessions, fact.dose_id)


async def remove_dose(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    dose: Dose,
    actor: str,
    reason: str,
) -> Dose:
    """Removes a dose entered in error: the series steps back and its timers follow."""
    if dose.removed:
        return dose
    snapshot = await _series_snapshot(db, settings, dose)
    dose_id = dose.id
    await end_transaction(db)
    request = RemoveDoseRequest(dose_id=dose_id, reason=reason, actor=actor)
    await drive(
        temporal,
        settings,
        snapshot,
        JourneyWorkflow.remove_dose,
        request,
        operation="remove",
        key=f"d{dose_id}",
    )
    return await fresh_dose(sessions, dose_id)


async def series_view(
    *, db: AsyncSession, settings: Settings, temporal: TemporalGateway, recipient_id: int
) -> JourneyView:
    """The current (or last) series, from its workflow, or from the records when it does not run."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    jid, series_no = await current_series(db, recipient_id)
    if await db.get(Journey, jid) is None and series_no > 1:
        series_no -= 1
        jid = journey_id(recipient_id, series_no)
    snapshot = await journey_snapshot(db, settings, recipient_id, series_no)
    await end_transaction(db)
    view = await query_view(temporal, jid)
    if view is not None:
        return view
    if not snapshot.doses and snapshot.appointment is None:
        raise NotFound("this recipient has no dose series yet")
    rule = snapshot.rule
    return JourneyView(
        journey_id=jid,
        recipient_id=recipient_id,
        series_no=series_no,
        product_code=rule.code if rule else None,
        product_version=rule.version if rule else None,
        doses_required=rule.doses if rule else None,
        doses=snapshot.doses,
        appointment=snapshot.appointment,
        complete=bool(rule and len(snapshot.doses) >= rule.doses),
        next_dose_number=None,
        next_dose_earliest=None,
        next_dose_latest=None,
        next_event=None,
        next_event_at=None,
    )


# --- what the portal's recipient page shows ----------------------------------------------------


@dataclass(frozen=True)
class RecipientSeries:
    """The recipient's doses (wherever given, with place and product), their appointments at
    the location, the location's usable lots, and its open slots for the next dose. When the
    next dose must be one product (the booked appointment's, or the series'), `next_product`
    names it and `lots` hold only that product's lots, the one that expires first first."""

    doses: list[tuple[Dose, Location, Product]]
    appointments: list[Appointment]
    lots: list[InventoryLot]
    open_slots: list[Slot]
    next_product: str | None = None


async def recipient_series(
    db: AsyncSession, settings: Settings, *, location: Location, recipient_id: int
) -> RecipientSeries:
    dose_rows = [
        (dose, place, product)
        for dose, place, product in (
            await db.execute(
                select(Dose, Location, Product)
                .join(Location, Location.id == Dose.location_id)
                .join(
                    Product, (Product.code == Dose.product_code) & (Product.version == Dose.product_version)
                )
                .where(Dose.recipient_id == recipient_id)
                .order_by(Dose.given_at, Dose.id)
            )
        ).all()
    ]
    given = [d for d, _loc, _p in dose_rows if not d.removed]
    appointments = (
        (
            await db.execute(
                select(Appointment)
                .where(Appointment.recipient_id == recipient_id, Appointment.location_id == location.id)
                .order_by(Appointment.start_at.desc())
            )
        )
        .scalars()
        .all()
    )
    # One open series names the product its next dose must be; with a series of several vaccine
    # families open (COVID-19 and mpox), any of their products may be next.
    open_series = (
        (
            await db.execute(
                select(Journey.series_no).where(
                    Journey.recipient_id == recipient_id, Journey.status == JourneyStatus.active.value
                )
            )
        )
        .scalars()
        .all()
    )
    must_be = None
    if len(open_series) <= 1:
        _jid, series_no = await current_series(db, recipient_id)
        must_be = next_product(await journey_snapshot(db, settings, recipient_id, series_no))
    today = to_local(utcnow(), location.time_zone).date()
    usable = select(InventoryLot).where(
        InventoryLot.location_id == location.id,
        InventoryLot.expires_on >= today,
        InventoryLot.on_hand > 0,
    )
    if must_be is not None:
        usable = usable.where(InventoryLot.product_code == must_be)
    lots = (
        await db.execute(
            usable.order_by(InventoryLot.product_code, InventoryLot.expires_on, InventoryLot.lot_number)
        )
    ).scalars()
    return RecipientSeries(
        doses=dose_rows,
        appointments=list(appointments),
        lots=list(lots),
        open_slots=await bookable_slots(db, settings, location, recipient_id, given),
        next_product=must_be,
    )
