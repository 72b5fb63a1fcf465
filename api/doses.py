"""Documenting doses: walk-in or at an appointment, at any location; edit and remove-in-error.

The lot is checked here (a record of the location); the series rules (dose
number, window, 4-day grace, same product) are checked by the journey
workflow, which records the dose and answers with any warning.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Documenter, Reader, SessionDep, SettingsDep, TemporalDep
from api.eligibility.schemas import Screening
from api.errors import Conflict, NotFound, Unprocessable
from api.journeys import IdempotencyKey, SessionsDep
from domain.dose_rules import to_local
from domain.journey_messages import DoseChanges, JourneyStatus
from records.db import transaction, utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import InventoryLot, current_product
from records.recipients import Recipient
from services.eligibility import check_eligible
from services.journeys import current_series, drive, end_transaction, journey_snapshot
from workflows.journey import DocumentRequest, EditDoseRequest, JourneyWorkflow, RemoveDoseRequest

router = APIRouter(tags=["doses"])

InjectionSite = Literal["left_deltoid", "right_deltoid", "left_thigh", "right_thigh", "other"]
Route = Literal["intramuscular", "subcutaneous", "intradermal", "intranasal", "other"]
# A clock a little ahead of ours must not make "given just now" a future dose.
CLOCK_SKEW = timedelta(minutes=5)


class DoseIn(BaseModel):
    product_code: str = Field(min_length=1, max_length=40)
    lot_number: str = Field(min_length=1, max_length=40)
    dose_number: int | None = Field(default=None, ge=1, le=10, description="checked against the series")
    injection_site: InjectionSite
    route: Route = "intramuscular"
    administered_by: str | None = Field(default=None, max_length=200, description="default: you")
    given_at: AwareDatetime | None = Field(default=None, description="default: now")
    idempotency_key: str | None = Field(default=None, max_length=120, description="or the header")
    screening: Screening | None = Field(default=None, description="screening answers by question code")


class DoseEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lot_number: str | None = Field(default=None, min_length=1, max_length=40)
    injection_site: InjectionSite | None = None
    route: Route | None = None
    administered_by: str | None = Field(default=None, min_length=1, max_length=200)
    given_at: AwareDatetime | None = None
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _something(self) -> DoseEdit:
        if not self.model_dump(exclude={"reason"}, exclude_none=True):
            raise ValueError("change at least one field")
        return self


class RemoveIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class DoseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    journey_id: str
    recipient_id: int
    location_id: int
    appointment_id: int | None
    dose_number: int
    product_code: str
    product_version: int
    lot_number: str
    expires_on: date
    injection_site: str
    route: str
    administered_by: str
    given_at: datetime
    warning: str | None
    documented_by: str
    removed: bool
    removed_reason: str | None


class DocumentedOut(DoseOut):
    series_complete: bool


async def load_dose(dose_id: int, actor: Reader, db: SessionDep) -> Dose:
    """A dose documented at the active location; another location's is a 404."""
    dose = (
        await db.execute(select(Dose).where(Dose.id == dose_id, Dose.location_id == actor.location.id))
    ).scalar_one_or_none()
    if dose is None:
        raise NotFound("no such dose at this location")
    return dose


DoseDep = Annotated[Dose, Depends(load_dose)]


async def usable_lot(
    db: AsyncSession, location: Location, product_code: str, lot_number: str, given_at: datetime
) -> InventoryLot:
    lot = (
        await db.execute(
            select(InventoryLot).where(
                InventoryLot.location_id == location.id, InventoryLot.lot_number == lot_number.strip().upper()
            )
        )
    ).scalar_one_or_none()
    if lot is None:
        raise Unprocessable(
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


async def _dose_out(sessions: SessionsDep, dose_id: int) -> DoseOut:
    async with transaction(sessions) as db:
        dose = await db.get(Dose, dose_id)
        if dose is None:
            raise NotFound("no such dose")
        return DoseOut.model_validate(dose)


@router.post("/recipients/{recipient_id}/doses", response_model=DocumentedOut, status_code=201)
async def document_dose(
    recipient_id: int,
    body: DoseIn,
    actor: Documenter,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> DocumentedOut:
    """Documents the recipient's next dose given here (walk-in or at their appointment)."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    key = idempotency_key or body.idempotency_key
    if key and (earlier := await _documented_with(db, recipient_id, key)) is not None:
        return earlier
    given_at = body.given_at or utcnow()
    if given_at > utcnow() + CLOCK_SKEW:
        raise Unprocessable("a dose cannot be documented before it is given", code="given_in_future")
    product = await current_product(db, body.product_code)
    if product is None:
        raise Unprocessable(
            f"unknown product {body.product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    lot = await usable_lot(db, actor.location, product.code, body.lot_number, given_at)
    await check_eligible(
        db,
        recipient_id=recipient_id,
        product_code=product.code,
        location_id=actor.location.id,
        at=given_at,
        screening=body.screening,
    )
    _jid, series_no = await current_series(db, recipient_id)
    snapshot = await journey_snapshot(db, settings, recipient_id, series_no)
    request = DocumentRequest(
        rule=product.rule(),
        location_id=actor.location.id,
        lot_number=lot.lot_number,
        expires_on=lot.expires_on,
        injection_site=body.injection_site,
        route=body.route,
        administered_by=body.administered_by or actor.user.full_name,
        given_at=given_at,
        idempotency_key=key or f"dose-{utcnow().timestamp()}",
        actor=actor.actor,
        dose_number=body.dose_number,
    )
    await end_transaction(db)
    outcome = await drive(
        temporal, settings, snapshot, JourneyWorkflow.document_dose, request, operation="dose", key=key
    )
    out = await _dose_out(sessions, outcome.dose.dose_id)
    return DocumentedOut(**out.model_dump(), series_complete=outcome.series_complete)


async def _documented_with(db: AsyncSession, recipient_id: int, key: str) -> DocumentedOut | None:
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
    out = DoseOut.model_validate(dose)
    return DocumentedOut(
        **out.model_dump(), series_complete=journey is not None and journey.status == JourneyStatus.complete
    )


@router.get("/recipients/{recipient_id}/doses", response_model=list[DoseOut])
async def list_doses(recipient_id: int, actor: Reader, db: SessionDep) -> list[DoseOut]:
    """Every dose of the recipient, wherever given (removed ones flagged, with the reason)."""
    rows = await db.execute(
        select(Dose).where(Dose.recipient_id == recipient_id).order_by(Dose.given_at, Dose.id)
    )
    return [DoseOut.model_validate(d) for d in rows.scalars()]


async def _series_snapshot(db: AsyncSession, settings: SettingsDep, dose: Dose):  # type: ignore[no-untyped-def]
    journey = await db.get(Journey, dose.journey_id)
    if journey is None:
        raise NotFound("no such dose")
    return await journey_snapshot(db, settings, dose.recipient_id, journey.series_no)


@router.patch("/doses/{dose_id}", response_model=DoseOut)
async def edit_dose(
    dose_id: int,
    body: DoseEdit,
    actor: Documenter,
    dose: DoseDep,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> DoseOut:
    """Corrects a documented dose; who and why go to the audit log."""
    if dose.removed:
        raise Conflict("this dose was removed in error; it cannot be edited", code="dose_removed")
    changes = DoseChanges(
        injection_site=body.injection_site,
        route=body.route,
        administered_by=body.administered_by,
        given_at=body.given_at,
    )
    if body.lot_number is not None or body.given_at is not None:
        lot = await usable_lot(
            db,
            actor.location,
            dose.product_code,
            body.lot_number or dose.lot_number,
            body.given_at or dose.given_at,
        )
        changes = DoseChanges(
            **{**changes.__dict__, "lot_number": lot.lot_number, "expires_on": lot.expires_on}
        )
    snapshot = await _series_snapshot(db, settings, dose)
    await end_transaction(db)
    request = EditDoseRequest(dose_id=dose.id, changes=changes, reason=body.reason, actor=actor.actor)
    fact = await drive(
        temporal, settings, snapshot, JourneyWorkflow.edit_dose, request, operation="edit-dose", key=None
    )
    return await _dose_out(sessions, fact.dose_id)


@router.post("/doses/{dose_id}/remove", response_model=DoseOut)
async def remove_dose(
    dose_id: int,
    body: RemoveIn,
    actor: Documenter,
    dose: DoseDep,
    db: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> DoseOut:
    """Removes a dose entered in error (reason required): the series steps back and its timers follow."""
    if dose.removed:
        return DoseOut.model_validate(dose)
    snapshot = await _series_snapshot(db, settings, dose)
    dose_id_ = dose.id
    await end_transaction(db)
    request = RemoveDoseRequest(dose_id=dose_id_, reason=body.reason, actor=actor.actor)
    await drive(
        temporal,
        settings,
        snapshot,
        JourneyWorkflow.remove_dose,
        request,
        operation="remove",
        key=f"d{dose_id_}",
    )
    return await _dose_out(sessions, dose_id_)
