"""Products (the dose rules, read-only here) and the location's inventory lots."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from api.deps import Manager, Reader, SessionDep
from api.errors import Conflict, Unprocessable
from records.audit import audit
from records.inventory import EventKind, record_event
from records.products import InventoryLot, Product, current_product

router = APIRouter(tags=["products and lots"])


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    version: int
    name: str
    doses: int
    interval_days: int
    recommended_latest_days: int
    grace_days: int


class LotIn(BaseModel):
    product_code: str = Field(min_length=1, max_length=40)
    lot_number: str = Field(min_length=1, max_length=40)
    expires_on: date
    doses_received: int = Field(default=0, ge=0, le=1_000_000, description="the delivery (a received event)")

    @field_validator("lot_number")
    @classmethod
    def _trim(cls, value: str) -> str:
        return value.strip().upper()


class LotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_code: str
    lot_number: str
    expires_on: date
    on_hand: int
    created_at: datetime


@router.get("/products", response_model=list[ProductOut])
async def list_products(actor: Reader, db: SessionDep) -> list[ProductOut]:
    """The newest version of every product."""
    rows = (await db.execute(select(Product).order_by(Product.code, Product.version.desc()))).scalars()
    newest: dict[str, Product] = {}
    for row in rows:
        newest.setdefault(row.code, row)
    return [ProductOut.model_validate(p) for p in newest.values()]


@router.get("/lots", response_model=list[LotOut])
async def list_lots(actor: Reader, db: SessionDep) -> list[LotOut]:
    rows = await db.execute(
        select(InventoryLot)
        .where(InventoryLot.location_id == actor.location.id)
        .order_by(InventoryLot.product_code, InventoryLot.expires_on)
    )
    return [LotOut.model_validate(r) for r in rows.scalars()]


@router.post("/lots", response_model=LotOut, status_code=201)
async def add_lot(body: LotIn, actor: Manager, db: SessionDep) -> LotOut:
    if await current_product(db, body.product_code) is None:
        raise Unprocessable(
            f"unknown product {body.product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    duplicate = (
        await db.execute(
            select(InventoryLot.id).where(
                InventoryLot.location_id == actor.location.id, InventoryLot.lot_number == body.lot_number
            )
        )
    ).first()
    if duplicate is not None:
        raise Conflict(
            f"lot {body.lot_number} is already recorded at this location",
            code="duplicate_lot",
            errors=[{"field": "lot_number", "message": "already recorded"}],
        )
    lot = InventoryLot(
        location_id=actor.location.id,
        created_by=actor.user.id,
        **body.model_dump(exclude={"doses_received"}),
    )
    db.add(lot)
    await db.flush()
    if body.doses_received:
        await record_event(db, lot, EventKind.received, body.doses_received, actor=actor.actor)
        await db.refresh(lot)
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="lot",
        entity_id=lot.id,
        action="add",
        changes={k: [None, str(v)] for k, v in body.model_dump().items()},
    )
    return LotOut.model_validate(lot)
