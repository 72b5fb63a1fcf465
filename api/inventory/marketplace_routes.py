"""The marketplace between locations: surplus offers and shortage requests.

Posting an offer or a request matches it with the oldest open counterpart of the same product at
another location; the pair becomes a proposed transfer (of the smaller quantity) that both
managers confirm (POST /transfers/{id}/confirm), which records it in both inventories.
Cancelling that transfer withdraws both listings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Manager, Reader, RecordId, SessionDep, at_active_location
from api.inventory.schemas import ListingOut, MarketplaceOut, OfferIn, PostedOut, ShortageIn
from records.marketplace import ShortageRequest, SurplusOffer
from services import marketplace

router = APIRouter(prefix="/marketplace", tags=["marketplace"])

OfferDep = at_active_location(SurplusOffer, id_name="offer_id", message="no such offer of this location")
ShortageDep = at_active_location(
    ShortageRequest, id_name="shortage_id", message="no such request of this location"
)


@router.get("", response_model=MarketplaceOut)
async def read_marketplace(
    actor: Reader, db: SessionDep, product_code: Annotated[str | None, Query(max_length=40)] = None
) -> MarketplaceOut:
    """Open offers and requests of every location, and all of this location's own."""
    return await marketplace.read_marketplace(db, actor.location, product_code)


@router.post("/offers", response_model=PostedOut, status_code=201)
async def offer_surplus(body: OfferIn, actor: Manager, db: SessionDep) -> PostedOut:
    """Offers doses of one of this location's lots; matched at once with the oldest open request."""
    return await marketplace.offer_surplus(db, actor, lot_id=body.lot_id, doses=body.doses)


@router.post("/requests", response_model=PostedOut, status_code=201)
async def request_doses(body: ShortageIn, actor: Manager, db: SessionDep) -> PostedOut:
    """Asks for doses of a product; matched at once with the oldest open offer of another location."""
    return await marketplace.request_doses(db, actor, product_code=body.product_code, doses=body.doses)


@router.post("/offers/{offer_id}/withdraw", response_model=ListingOut)
async def withdraw_offer(offer_id: RecordId, actor: Manager, offer: OfferDep, db: SessionDep) -> ListingOut:
    return await marketplace.withdraw(db, actor, offer)


@router.post("/requests/{shortage_id}/withdraw", response_model=ListingOut)
async def withdraw_request(
    shortage_id: RecordId, actor: Manager, shortage: ShortageDep, db: SessionDep
) -> ListingOut:
    return await marketplace.withdraw(db, actor, shortage)
