"""Products (the dose rules, read-only here) and the location's inventory lots."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Manager, Reader, SessionDep
from api.products.schemas import LotIn, LotOut, ProductOut
from services import catalog

router = APIRouter(tags=["products and lots"])


@router.get("/products", response_model=list[ProductOut])
async def list_products(actor: Reader, db: SessionDep) -> list[ProductOut]:
    """The newest version of every product."""
    return [ProductOut.model_validate(p) for p in await catalog.newest_products(db)]


@router.get("/lots", response_model=list[LotOut])
async def list_lots(actor: Reader, db: SessionDep) -> list[LotOut]:
    return [LotOut.model_validate(r) for r in await catalog.lots(db, actor.location.id)]


@router.post("/lots", response_model=LotOut, status_code=201)
async def add_lot(body: LotIn, actor: Manager, db: SessionDep) -> LotOut:
    lot = await catalog.add_lot(
        db, location_id=actor.location.id, user_id=actor.user.id, actor=actor.actor, **body.model_dump()
    )
    return LotOut.model_validate(lot)
