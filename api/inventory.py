"""Inventory of the active location: stock per lot and product (derived from events), deliveries,
waste, transfers to other locations, the audit that recomputes every lot, and booked demand
against stock for the coming days.

Doses taken by documenting (and given back by removal, moved by a lot correction) are recorded by
the journey's own database step (activities/journey.py), atomically with the dose.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Documenter, Manager, Reader, RecordId, SessionDep
from api.errors import Conflict, NotFound, Unprocessable
from api.stock_warnings import StockWarning, stock_warning
from domain.dose_rules import to_local
from domain.scheduling import ACTIVE_STATUSES
from records.audit import audit
from records.db import utcnow
from records.inventory import (
    EventKind,
    InventoryEvent,
    OutOfStock,
    Transfer,
    TransferRefused,
    TransferStatus,
    WasteReason,
    audit_location,
    confirm_transfer,
    record_event,
)
from records.locations import Location
from records.marketplace import settle_listings
from records.products import InventoryLot
from records.scheduling import Appointment
from services.scheduling import day_bounds

router = APIRouter(tags=["inventory"])


# --------------------------------------------------------------------------- schemas


class LotStock(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_code: str
    lot_number: str
    expires_on: date
    on_hand: int


class ProductStock(BaseModel):
    product_code: str
    on_hand: int = Field(description="doses in lots not yet expired today")
    expired: int = Field(description="doses still recorded in expired lots (log them as waste)")


class InventoryOut(BaseModel):
    products: list[ProductStock]
    lots: list[LotStock]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lot_id: int
    product_code: str
    kind: str
    quantity: int
    reason: str | None
    note: str | None
    dose_id: int | None
    transfer_id: int | None
    actor: str
    at: datetime


class ReceiptIn(BaseModel):
    doses: int = Field(ge=1, le=1_000_000)
    note: str | None = Field(default=None, max_length=500)


class WasteIn(BaseModel):
    doses: int = Field(ge=1, le=1_000_000)
    reason: WasteReason
    note: str | None = Field(default=None, max_length=500)


class LotAudit(BaseModel):
    lot_id: int
    lot_number: str
    on_hand: int
    from_events: int


class AuditOut(BaseModel):
    consistent: bool
    lots: list[LotAudit]


class TransferIn(BaseModel):
    to_location_code: str = Field(min_length=1, max_length=40)
    lot_id: int = Field(ge=1, le=2_147_483_647)
    doses: int = Field(ge=1, le=1_000_000)


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_location_id: int
    to_location_id: int
    lot_id: int
    received_lot_id: int | None
    product_code: str
    quantity: int
    status: str
    offer_id: int | None
    shortage_id: int | None
    sender_confirmed_by: str | None
    receiver_confirmed_by: str | None
    created_at: datetime
    completed_at: datetime | None


class DemandDay(BaseModel):
    date: date
    booked: int
    booked_to_date: int = Field(description="bookings from today through this day")
    stock: int = Field(description="doses on hand in lots still usable this day")
    short_by: int


class ProductDemand(BaseModel):
    product_code: str
    on_hand: int
    days: list[DemandDay]


class DemandOut(BaseModel):
    products: list[ProductDemand]
    warnings: list[StockWarning]


# --------------------------------------------------------------------------- loading


async def load_lot(lot_id: RecordId, actor: Reader, db: SessionDep) -> InventoryLot:
    """A lot of the active location; another location's lot is a 404."""
    lot = (
        await db.execute(
            select(InventoryLot).where(
                InventoryLot.id == lot_id, InventoryLot.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()
    if lot is None:
        raise NotFound("no such lot at this location")
    return lot


LotDep = Annotated[InventoryLot, Depends(load_lot)]


async def load_transfer(transfer_id: RecordId, actor: Reader, db: SessionDep) -> Transfer:
    """A transfer the active location sends or receives; anyone else's is a 404."""
    here = actor.location.id
    transfer = (
        await db.execute(
            select(Transfer).where(
                Transfer.id == transfer_id,
                or_(Transfer.from_location_id == here, Transfer.to_location_id == here),
            )
        )
    ).scalar_one_or_none()
    if transfer is None:
        raise NotFound("no such transfer for this location")
    return transfer


TransferDep = Annotated[Transfer, Depends(load_transfer)]


def local_today(location: Location) -> date:
    return to_local(utcnow(), location.time_zone).date()


def out_of_stock(error: OutOfStock) -> Conflict:
    return Conflict(str(error), code="lot_empty", lot_number=error.lot_number, on_hand=error.on_hand)


# --------------------------------------------------------------------------- stock


@router.get("/inventory", response_model=InventoryOut)
async def read_inventory(actor: Reader, db: SessionDep) -> InventoryOut:
    """Doses on hand per product and per lot, from the lots' events."""
    lots = (
        await db.execute(
            select(InventoryLot)
            .where(InventoryLot.location_id == actor.location.id)
            .order_by(InventoryLot.product_code, InventoryLot.expires_on, InventoryLot.id)
        )
    ).scalars()
    today = local_today(actor.location)
    products: dict[str, ProductStock] = {}
    out_lots = []
    for lot in lots:
        out_lots.append(LotStock.model_validate(lot))
        stock = products.setdefault(
            lot.product_code, ProductStock(product_code=lot.product_code, on_hand=0, expired=0)
        )
        if lot.expires_on >= today:
            stock.on_hand += lot.on_hand
        else:
            stock.expired += lot.on_hand
    return InventoryOut(products=list(products.values()), lots=out_lots)


@router.get("/inventory/audit", response_model=AuditOut)
async def audit_inventory(actor: Reader, db: SessionDep) -> AuditOut:
    """Recomputes every lot from its events and sets the result beside the running total."""
    numbers = dict(
        (
            await db.execute(
                select(InventoryLot.id, InventoryLot.lot_number).where(
                    InventoryLot.location_id == actor.location.id
                )
            )
        ).all()
    )
    balances = await audit_location(db, actor.location.id)
    lots = [
        LotAudit(lot_id=b.lot_id, lot_number=numbers[b.lot_id], on_hand=b.on_hand, from_events=b.from_events)
        for b in balances
    ]
    return AuditOut(consistent=all(lot.on_hand == lot.from_events for lot in lots), lots=lots)


@router.get("/lots/{lot_id}/events", response_model=list[EventOut])
async def lot_events(lot_id: RecordId, actor: Reader, lot: LotDep, db: SessionDep) -> list[EventOut]:
    """The lot's ledger, oldest first: its on-hand is the sum of these quantities."""
    rows = await db.execute(
        select(InventoryEvent).where(InventoryEvent.lot_id == lot.id).order_by(InventoryEvent.id)
    )
    return [EventOut.model_validate(e) for e in rows.scalars()]


@router.post("/lots/{lot_id}/receipts", response_model=LotStock, status_code=201)
async def receive_doses(
    lot_id: RecordId, body: ReceiptIn, actor: Manager, lot: LotDep, db: SessionDep
) -> LotStock:
    """A further delivery of an existing lot."""
    await record_event(db, lot, EventKind.received, body.doses, actor=actor.actor, note=body.note)
    await db.refresh(lot)
    return LotStock.model_validate(lot)


@router.post("/lots/{lot_id}/waste", response_model=LotStock, status_code=201)
async def waste_doses(
    lot_id: RecordId, body: WasteIn, actor: Documenter, lot: LotDep, db: SessionDep
) -> LotStock:
    """Doses lost (expired, broken vial, drawn but not given); more than the lot holds is a 409."""
    try:
        await record_event(
            db,
            lot,
            EventKind.wasted,
            -body.doses,
            actor=actor.actor,
            reason=body.reason.value,
            note=body.note,
        )
    except OutOfStock as error:
        raise out_of_stock(error) from None
    await db.refresh(lot)
    return LotStock.model_validate(lot)


# --------------------------------------------------------------------------- transfers


async def propose_transfer(
    db: AsyncSession,
    *,
    source: InventoryLot,
    to_location_id: int,
    quantity: int,
    actor: str,
    sender_confirmed: bool,
    offer_id: int | None = None,
    shortage_id: int | None = None,
) -> Transfer:
    if to_location_id == source.location_id:
        raise Unprocessable("a transfer goes to another location", code="same_location")
    transfer = Transfer(
        from_location_id=source.location_id,
        to_location_id=to_location_id,
        lot_id=source.id,
        product_code=source.product_code,
        quantity=quantity,
        status=TransferStatus.proposed.value,
        offer_id=offer_id,
        shortage_id=shortage_id,
        sender_confirmed_by=actor if sender_confirmed else None,
        created_by=actor,
    )
    db.add(transfer)
    await db.flush()
    audit(
        db,
        actor=actor,
        location_id=source.location_id,
        entity="transfer",
        entity_id=transfer.id,
        action="propose",
        changes={
            "lot_id": [None, source.id],
            "to_location_id": [None, to_location_id],
            "quantity": [None, quantity],
        },
    )
    return transfer


@router.post("/transfers", response_model=TransferOut, status_code=201)
async def send_transfer(body: TransferIn, actor: Manager, db: SessionDep) -> TransferOut:
    """Proposes sending doses of a lot to another location (confirmed by you as sender);
    the doses move, on both sides, when that location's manager confirms receipt."""
    source = await load_lot(body.lot_id, actor, db)
    target = (
        await db.execute(select(Location).where(Location.code == body.to_location_code.strip().upper()))
    ).scalar_one_or_none()
    if target is None:
        raise Unprocessable(
            f"no location {body.to_location_code!r}",
            errors=[{"field": "to_location_code", "message": "unknown location"}],
        )
    if source.on_hand < body.doses:
        raise Conflict(
            f"lot {source.lot_number} has {source.on_hand} doses on hand",
            code="lot_empty",
            on_hand=source.on_hand,
        )
    transfer = await propose_transfer(
        db,
        source=source,
        to_location_id=target.id,
        quantity=body.doses,
        actor=actor.actor,
        sender_confirmed=True,
    )
    return TransferOut.model_validate(transfer)


@router.get("/transfers", response_model=list[TransferOut])
async def list_transfers(
    actor: Reader,
    db: SessionDep,
    status: Annotated[TransferStatus | None, Query()] = None,
) -> list[TransferOut]:
    """Transfers this location sends or receives, newest first."""
    here = actor.location.id
    query = select(Transfer).where(or_(Transfer.from_location_id == here, Transfer.to_location_id == here))
    if status is not None:
        query = query.where(Transfer.status == status.value)
    rows = await db.execute(query.order_by(Transfer.id.desc()).limit(200))
    return [TransferOut.model_validate(t) for t in rows.scalars()]


@router.get("/transfers/{transfer_id}", response_model=TransferOut)
async def read_transfer(transfer_id: RecordId, actor: Reader, transfer: TransferDep) -> TransferOut:
    return TransferOut.model_validate(transfer)


@router.post("/transfers/{transfer_id}/confirm", response_model=TransferOut)
async def confirm(
    transfer_id: RecordId, actor: Manager, transfer: TransferDep, db: SessionDep
) -> TransferOut:
    """This location's manager confirms (as sender or receiver); the second confirmation moves the doses."""
    if transfer.status != TransferStatus.proposed:
        raise Conflict(f"this transfer is {transfer.status}", code="transfer_closed")
    side = "sender" if transfer.from_location_id == actor.location.id else "receiver"
    try:
        done = await confirm_transfer(db, transfer, side=side, actor=actor.actor)
    except OutOfStock as error:
        raise out_of_stock(error) from None
    except TransferRefused as error:
        raise Conflict(str(error), code="lot_product_mismatch") from None
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="transfer",
        entity_id=transfer.id,
        action="complete" if done else f"confirm_{side}",
    )
    if done:
        await settle_listings(
            db, offer_id=transfer.offer_id, shortage_id=transfer.shortage_id, fulfilled=True
        )
    return TransferOut.model_validate(transfer)


@router.post("/transfers/{transfer_id}/cancel", response_model=TransferOut)
async def cancel(transfer_id: RecordId, actor: Manager, transfer: TransferDep, db: SessionDep) -> TransferOut:
    """Either side calls it off before it completes; nothing moves."""
    if transfer.status == TransferStatus.cancelled:
        return TransferOut.model_validate(transfer)
    if transfer.status != TransferStatus.proposed:
        raise Conflict(f"this transfer is {transfer.status}", code="transfer_closed")
    transfer.status = TransferStatus.cancelled.value
    transfer.cancelled_by = actor.actor
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="transfer",
        entity_id=transfer.id,
        action="cancel",
        changes={"status": ["proposed", "cancelled"]},
    )
    await settle_listings(db, offer_id=transfer.offer_id, shortage_id=transfer.shortage_id, fulfilled=False)
    return TransferOut.model_validate(transfer)


# --------------------------------------------------------------------------- demand


async def booked_demand(db: AsyncSession, location: Location, days: int) -> tuple[date, dict[str, list[int]]]:
    """Active bookings per product for each of the next `days` local days (index 0 = today)."""
    today = local_today(location)
    start, _ = day_bounds(today, location.time_zone)
    _, end = day_bounds(today + timedelta(days=days - 1), location.time_zone)
    rows = await db.execute(
        select(Appointment.product_code, Appointment.start_at).where(
            Appointment.location_id == location.id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start_at >= start,
            Appointment.start_at < end,
        )
    )
    counts: dict[str, list[int]] = {}
    for product_code, start_at in rows.all():
        index = (to_local(start_at, location.time_zone).date() - today).days
        if 0 <= index < days:
            counts.setdefault(product_code, [0] * days)[index] += 1
    return today, counts


@router.get("/inventory/demand", response_model=DemandOut)
async def demand_against_stock(
    actor: Reader, db: SessionDep, days: Annotated[int, Query(ge=1, le=60)] = 7
) -> DemandOut:
    """Booked appointments per product and day against the doses on hand; a warning for every
    product whose bookings from today through some day exceed the stock usable that day."""
    location = actor.location
    today, counts = await booked_demand(db, location, days)
    lots = (
        await db.execute(
            select(InventoryLot.product_code, InventoryLot.expires_on, InventoryLot.on_hand).where(
                InventoryLot.location_id == location.id, InventoryLot.on_hand > 0
            )
        )
    ).all()

    def usable(code: str, day: date) -> int:
        return sum(on_hand for product, expires_on, on_hand in lots if product == code and expires_on >= day)

    codes = sorted(set(counts) | {code for code, expires_on, _ in lots if expires_on >= today})
    products, warnings = [], []
    for code in codes:
        booked = counts.get(code, [0] * days)
        out_days, running = [], 0
        for index in range(days):
            day = today + timedelta(days=index)
            running += booked[index]
            stock = usable(code, day)
            out_days.append(
                DemandDay(
                    date=day,
                    booked=booked[index],
                    booked_to_date=running,
                    stock=stock,
                    short_by=max(running - stock, 0),
                )
            )
        products.append(ProductDemand(product_code=code, on_hand=usable(code, today), days=out_days))
        short = next((d for d in out_days if d.short_by), None)
        if short is not None:
            warnings.append(
                stock_warning(
                    "bookings_exceed_stock",
                    code,
                    booked=short.booked_to_date,
                    date=short.date,
                    stock=short.stock,
                    short=short.short_by,
                )
            )
    return DemandOut(products=products, warnings=warnings)
