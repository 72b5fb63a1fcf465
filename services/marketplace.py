"""The marketplace between locations: surplus offers and shortage requests.

Posting an offer or a request matches it with the oldest open counterpart of the same product at
another location; the pair becomes a proposed transfer (of the smaller quantity) that both
managers confirm (POST /transfers/{id}/confirm), which records it in both inventories.
Cancelling that transfer withdraws both listings.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Conflict, Invalid
from records.audit import audit
from records.inventory import Transfer
from records.locations import Location
from records.marketplace import ListingStatus, ShortageRequest, SurplusOffer, claim_listing
from records.products import InventoryLot, current_product
from services.access import Acting
from services.inventory import TransferOut, lot_at, propose_transfer, refuse_short


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


# Another model of this name exists, so OpenAPI names this one by its module: keep the name
# it had before the move, so the published document is unchanged.
ListingOut.__module__ = "api.marketplace"
ListingOut.model_rebuild(force=True)


class PostedOut(BaseModel):
    listing: ListingOut
    transfer: TransferOut | None = Field(description="the proposed transfer when it matched at once")


class MarketplaceOut(BaseModel):
    offers: list[ListingOut]
    requests: list[ListingOut]


async def listing_out(
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


async def read_marketplace(
    db: AsyncSession, location: Location, product_code: str | None = None
) -> MarketplaceOut:
    """Open offers and requests of every location, and all of this location's own."""
    here = location.id
    locations = {loc.id: loc for loc in (await db.execute(select(Location))).scalars()}
    out: dict[str, list[ListingOut]] = {"offers": [], "requests": []}
    models: tuple[tuple[str, type[SurplusOffer] | type[ShortageRequest]], ...] = (
        ("offers", SurplusOffer),
        ("requests", ShortageRequest),
    )
    for key, model in models:
        query = select(model).where(or_(model.status == ListingStatus.open.value, model.location_id == here))
        if product_code:
            query = query.where(model.product_code == product_code)
        for row in (await db.execute(query.order_by(model.id.desc()).limit(200))).scalars():
            out[key].append(await listing_out(db, cast(SurplusOffer | ShortageRequest, row), locations))
    return MarketplaceOut(**out)


async def offer_surplus(db: AsyncSession, actor: Acting, *, lot_id: int, doses: int) -> PostedOut:
    """Offers doses of one of this location's lots; matched at once with the oldest open request."""
    lot = await lot_at(db, actor.location.id, lot_id)
    refuse_short(lot, doses)
    offer = SurplusOffer(
        location_id=actor.location.id,
        lot_id=lot.id,
        product_code=lot.product_code,
        quantity=doses,
        created_by=actor.actor,
    )
    transfer = await _post_and_match(db, actor, offer)
    return PostedOut(
        listing=await listing_out(db, offer),
        transfer=TransferOut.model_validate(transfer) if transfer else None,
    )


async def request_doses(db: AsyncSession, actor: Acting, *, product_code: str, doses: int) -> PostedOut:
    """Asks for doses of a product; matched at once with the oldest open offer of another location."""
    if await current_product(db, product_code) is None:
        raise Invalid(
            f"unknown product {product_code!r}",
            errors=[{"field": "product_code", "message": "unknown product"}],
        )
    shortage = ShortageRequest(
        location_id=actor.location.id,
        product_code=product_code,
        quantity=doses,
        created_by=actor.actor,
    )
    transfer = await _post_and_match(db, actor, shortage)
    return PostedOut(
        listing=await listing_out(db, shortage),
        transfer=TransferOut.model_validate(transfer) if transfer else None,
    )


async def _post_and_match(
    db: AsyncSession, actor: Acting, listing: SurplusOffer | ShortageRequest
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
        pair = (listing, candidate) if is_offer else (candidate, listing)
        offer, shortage = cast(SurplusOffer, pair[0]), cast(ShortageRequest, pair[1])
        transfer = await _match(db, offer, shortage, actor.actor, posted="offer" if is_offer else "request")
        if transfer is not None:
            return transfer
    return None


async def withdraw(db: AsyncSession, actor: Acting, row: SurplusOffer | ShortageRequest) -> ListingOut:
    """Withdraws an open listing (again is a no-op); a matched one is a conflict."""
    if row.status == ListingStatus.matched:
        raise Conflict("this listing is matched; cancel its transfer instead", code="listing_matched")
    if row.status == ListingStatus.open:
        row.status = ListingStatus.withdrawn.value
        audit(
            db,
            actor=actor.actor,
            location_id=row.location_id,
            entity=row.__tablename__,
            entity_id=row.id,
            action="withdraw",
        )
    return await listing_out(db, row)
