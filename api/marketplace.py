"""The marketplace between locations: surplus offers and shortage requests.

Posting an offer or a request matches it with the oldest open counterpart of the same product at
another location; the pair becomes a proposed transfer (of the smaller quantity) that both
managers confirm (POST /transfers/{id}/confirm), which records it in both inventories.
Cancelling that transfer withdraws both listings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Actor, Manager, Reader, RecordId, SessionDep
from api.errors import Conflict, NotFound, Unprocessable
from api.inventory import TransferOut, load_lot, propose_transfer
from records.audit import audit
from records.inventory import Transfer
from records.locations import Location
from records.marketplace import ListingStatus, ShortageRequest, SurplusOffer, claim_listing
from records.products import InventoryLot, current_product

router = APIRouter(prefix="/marketplace", tags=["marketplace"])


class OfferIn(BaseModel):
    lot_id: int = Field(ge=1, le=2_147_483_647)
    doses: int = Field(ge=1, le=1_000_000)


class ShortageIn(BaseModel):
    product_code: str = Field(min_length=1, max_length=40)
    doses: int = Field(ge=1, le=1_000_000)


class ListingOut(BaseModel):
    id: int
    kind: str  # "offer" / "request"
    location_code: str
    location_name: str
    product_code: str
    quantity: int
    status: str
    lot_number: str | None = None
    expires_on: str | None = None
    transfer_id: int | None = None
    created_at: datetime


class PostedOut(BaseModel):
    listing: ListingOut
    transfer: TransferOut | None = Field(description="the proposed transfer when it matched at once")


class MarketplaceOut(BaseModel):
    offers: list[ListingOut]
    requests: list[ListingOut]


async def load_offer(offer_id: RecordId, actor: Reader, db: SessionDep) -> SurplusOffer:
    offer = (
        await db.execute(
            select(SurplusOffer).where(
                SurplusOffer.id == offer_id, SurplusOffer.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()
    if offer is None:
        raise NotFound("no such offer of this location")
    return offer


async def load_shortage(shortage_id: RecordId, actor: Reader, db: SessionDep) -> ShortageRequest:
    shortage = (
        await db.execute(
            select(ShortageRequest).where(
                ShortageRequest.id == shortage_id, ShortageRequest.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()
    if shortage is None:
        raise NotFound("no such request of this location")
    return shortage


OfferDep = Annotated[SurplusOffer, Depends(load_offer)]
ShortageDep = Annotated[ShortageRequest, Depends(load_shortage)]


async def _listing(
    db: AsyncSession, row: SurplusOffer | ShortageRequest, locations: dict[int, Location] | None = None
) -> ListingOut:
    location = (locations or {}).get(row.location_id) or await db.get(Location, row.location_id)
    assert location is not None
    lot = await db.get(InventoryLot, row.lot_id) if isinstance(row, SurplusOffer) else None
    column = Transfer.offer_id if isinstance(row, SurplusOffer) else Transfer.shortage_id
    transfer_id = (
        await db.execute(select(Transfer.id).where(column == row.id).order_by(Transfer.id.desc()).limit(1))
    ).scalar_one_or_none()
    return ListingOut(
        id=row.id,
        kind="offer" if isinstance(row, SurplusOffer) else "request",
        location_code=location.code,
        location_name=location.name,
        product_code=row.product_code,
        quantity=row.quantity,
        status=row.status,
        lot_number=lot.lot_number if lot else None,
        expires_on=lot.expires_on.isoformat() if lot else None,
        transfer_id=transfer_id,
        created_at=row.created_at,
    )


async def _match(
    db: AsyncSession, offer: SurplusOffer, shortage: ShortageRequest, actor: str, *, posted: str
) -> Transfer | None:
    """Claims both listings (conditionally, so neither is matched twice) and proposes the transfer.
    The waiting counterpart is claimed first: the listing just `posted` belongs to this transaction
    and cannot be taken meanwhile, so a lost race leaves nothing half-claimed."""
    waiting, fresh = (shortage, offer) if posted == "offer" else (offer, shortage)
    if not await claim_listing(db, type(waiting), waiting.id):
        return None
    await claim_listing(db, type(fresh), fresh.id)
    lot = await db.get(InventoryLot, offer.lot_id)
    assert lot is not None
    transfer = await propose_transfer(
        db,
        source=lot,
        to_location_id=shortage.location_id,
        quantity=min(offer.quantity, shortage.quantity),
        actor=actor,
        sender_confirmed=False,
        offer_id=offer.id,
        shortage_id=shortage.id,
    )
    await db.refresh(offer)
    await db.refresh(shortage)
    return transfer


@router.get("", response_model=MarketplaceOut)
async def read_marketplace(
    actor: Reader, db: SessionDep, product_code: Annotated[str | None, Query(max_length=40)] = None
) -> MarketplaceOut:
    """Open offers and requests of every location, and all of this location's own."""
    here = actor.location.id
    locations = {loc.id: loc for loc in (await db.execute(select(Location))).scalars()}
    out: dict[str, list[ListingOut]] = {"offers": [], "requests": []}
    for key, model in (("offers", SurplusOffer), ("requests", ShortageRequest)):
        query = select(model).where(or_(model.status == ListingStatus.open.value, model.location_id == here))
        if product_code:
            query = query.where(model.product_code == product_code)
        for row in (await db.execute(query.order_by(model.id.desc()).limit(200))).scalars():
            out[key].append(await _listing(db, row, locations))
    return MarketplaceOut(**out)


@router.post("/offers", response_model=PostedOut, status_code=201)
async def offer_surplus(body: OfferIn, actor: Manager, db: SessionDep) -> PostedOut:
    """Offers doses of one of this location's lots; matched at once with the oldest open request."""
    lot = await load_lot(body.lot_id, actor, db)
    if lot.on_hand < body.doses:
        raise Conflict(
            f"lot {lot.lot_number} has {lot.on_hand} doses on hand", code="lot_empty", on_hand=lot.on_hand
        )
    offer = SurplusOffer(
        location_id=actor.location.id,
        lot_id=lot.id,
        product_code=lot.product_code,
        quantity=body.doses,
        created_by=actor.actor,
    )
    transfer = await _post_and_match(db, actor, offer)
    return PostedOut(
        listing=await _listing(db, offer), transfer=TransferOut.model_validate(transfer) if transfer else None
    )


@router.post("/requests", response_model=PostedOut, status_code=201)
async def request_doses(body: ShortageIn, actor: Manager, db: SessionDep) -> PostedOut:
    """Asks for doses of a product; matched at once with the oldest open offer of another location."""
    if await current_product(db, body.product_code) is None:
        raise Unprocessable(
            f"unknown product {body.product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    shortage = ShortageRequest(
        location_id=actor.location.id,
        product_code=body.product_code,
        quantity=body.doses,
        created_by=actor.actor,
    )
    transfer = await _post_and_match(db, actor, shortage)
    return PostedOut(
        listing=await _listing(db, shortage),
        transfer=TransferOut.model_validate(transfer) if transfer else None,
    )


async def _post_and_match(
    db: AsyncSession, actor: Actor, listing: SurplusOffer | ShortageRequest
) -> Transfer | None:
    """Records a new offer or request and matches it with the oldest open listing of the other
    kind, for the same product, at another location."""
    db.add(listing)
    await db.flush()
    is_offer = isinstance(listing, SurplusOffer)
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="surplus_offer" if is_offer else "shortage_request",
        entity_id=listing.id,
        action="post",
    )
    other = ShortageRequest if is_offer else SurplusOffer
    candidates = (
        await db.execute(
            select(other)
            .where(
                other.status == ListingStatus.open.value,
                other.product_code == listing.product_code,
                other.location_id != listing.location_id,
            )
            .order_by(other.id)
            .limit(20)
        )
    ).scalars()
    for candidate in candidates:
        offer, shortage = (listing, candidate) if is_offer else (candidate, listing)
        transfer = await _match(db, offer, shortage, actor.actor, posted="offer" if is_offer else "request")
        if transfer is not None:
            return transfer
    return None


async def _withdraw(db: AsyncSession, row: SurplusOffer | ShortageRequest, actor: str) -> None:
    if row.status == ListingStatus.matched:
        raise Conflict("this listing is matched; cancel its transfer instead", code="listing_matched")
    if row.status == ListingStatus.open:
        row.status = ListingStatus.withdrawn.value
        audit(
            db,
            actor=actor,
            location_id=row.location_id,
            entity=row.__tablename__,
            entity_id=row.id,
            action="withdraw",
        )


@router.post("/offers/{offer_id}/withdraw", response_model=ListingOut)
async def withdraw_offer(offer_id: RecordId, actor: Manager, offer: OfferDep, db: SessionDep) -> ListingOut:
    await _withdraw(db, offer, actor.actor)
    return await _listing(db, offer)


@router.post("/requests/{shortage_id}/withdraw", response_model=ListingOut)
async def withdraw_request(
    shortage_id: RecordId, actor: Manager, shortage: ShortageDep, db: SessionDep
) -> ListingOut:
    await _withdraw(db, shortage, actor.actor)
    return await _listing(db, shortage)
