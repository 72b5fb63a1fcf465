"""Inventory of the active location: stock per lot and product, deliveries, waste, transfers to
other locations, the audit that recomputes every lot, and booked demand against stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Documenter, Manager, Reader, RecordId, SessionDep
from api.inventory.deps import LotDep, TransferDep
from api.inventory.schemas import (
    AuditOut,
    DemandOut,
    EventOut,
    InventoryOut,
    LotStock,
    ReceiptIn,
    TransferIn,
    TransferOut,
    WasteIn,
    demand_out,
)
from records.inventory import TransferStatus
from services import inventory

router = APIRouter(tags=["inventory"])


@router.get("/inventory", response_model=InventoryOut)
async def read_inventory(actor: Reader, db: SessionDep) -> InventoryOut:
    """Doses on hand per product and per lot, from the lots' events."""
    return await inventory.read_inventory(db, actor.location)


@router.get("/inventory/audit", response_model=AuditOut)
async def audit_inventory(actor: Reader, db: SessionDep) -> AuditOut:
    """Recomputes every lot from its events and sets the result beside the running total."""
    return await inventory.audit_inventory(db, actor.location)


@router.get("/lots/{lot_id}/events", response_model=list[EventOut])
async def lot_events(lot_id: RecordId, actor: Reader, lot: LotDep, db: SessionDep) -> list[EventOut]:
    """The lot's ledger, oldest first: its on-hand is the sum of these quantities."""
    return await inventory.lot_events(db, lot)


@router.post("/lots/{lot_id}/receipts", response_model=LotStock, status_code=201)
async def receive_doses(
    lot_id: RecordId, body: ReceiptIn, actor: Manager, lot: LotDep, db: SessionDep
) -> LotStock:
    """A further delivery of an existing lot."""
    return await inventory.receive_doses(db, actor, lot, body.doses, body.note)


@router.post("/lots/{lot_id}/waste", response_model=LotStock, status_code=201)
async def waste_doses(
    lot_id: RecordId, body: WasteIn, actor: Documenter, lot: LotDep, db: SessionDep
) -> LotStock:
    """Doses lost (expired, broken vial, drawn but not given); more than the lot holds is a 409."""
    return await inventory.waste_doses(db, actor, lot, body.doses, body.reason.value, body.note)


@router.post("/transfers", response_model=TransferOut, status_code=201)
async def send_transfer(body: TransferIn, actor: Manager, db: SessionDep) -> TransferOut:
    """Proposes sending doses of a lot to another location (confirmed by you as sender);
    the doses move, on both sides, when that location's manager confirms receipt."""
    transfer = await inventory.send_transfer(
        db, actor, to_location_code=body.to_location_code, lot_id=body.lot_id, doses=body.doses
    )
    return TransferOut.model_validate(transfer)


@router.get("/transfers", response_model=list[TransferOut])
async def list_transfers(
    actor: Reader,
    db: SessionDep,
    status: Annotated[TransferStatus | None, Query()] = None,
) -> list[TransferOut]:
    """Transfers this location sends or receives, newest first."""
    return await inventory.list_transfers(db, actor.location, status)


@router.get("/transfers/{transfer_id}", response_model=TransferOut)
async def read_transfer(transfer_id: RecordId, actor: Reader, transfer: TransferDep) -> TransferOut:
    return TransferOut.model_validate(transfer)


@router.post("/transfers/{transfer_id}/confirm", response_model=TransferOut)
async def confirm(
    transfer_id: RecordId, actor: Manager, transfer: TransferDep, db: SessionDep
) -> TransferOut:
    """This location's manager confirms (as sender or receiver); the second confirmation moves the doses."""
    return await inventory.confirm(db, actor, transfer)


@router.post("/transfers/{transfer_id}/cancel", response_model=TransferOut)
async def cancel(transfer_id: RecordId, actor: Manager, transfer: TransferDep, db: SessionDep) -> TransferOut:
    """Either side calls it off before it completes; nothing moves."""
    return await inventory.cancel(db, actor, transfer)


@router.get("/inventory/demand", response_model=DemandOut)
async def demand_against_stock(
    actor: Reader, db: SessionDep, days: Annotated[int, Query(ge=1, le=60)] = 7
) -> DemandOut:
    """Booked appointments per product and day against the doses on hand; a warning for every
    product whose bookings from today through some day exceed the stock usable that day."""
    return demand_out(await inventory.demand_against_stock(db, actor.location, days))
