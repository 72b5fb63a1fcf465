"""Surplus offers and shortage requests between locations; a matched pair becomes a transfer."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow


class ListingStatus(enum.StrEnum):
    open = "open"  # waiting for a counterpart
    matched = "matched"  # a transfer is proposed; both managers confirm it
    fulfilled = "fulfilled"  # the transfer was confirmed by both
    withdrawn = "withdrawn"  # taken back, or its transfer was cancelled


class SurplusOffer(Base):
    """Doses of one lot a location can spare."""

    __tablename__ = "surplus_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lots.id"))
    product_code: Mapped[str] = mapped_column(String(40), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ListingStatus.open.value, index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShortageRequest(Base):
    """Doses of a product a location is short of."""

    __tablename__ = "shortage_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ListingStatus.open.value, index=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def settle_listings(
    db: AsyncSession, *, offer_id: int | None, shortage_id: int | None, fulfilled: bool
) -> None:
    """A marketplace transfer ended: its offer and request are fulfilled, or (cancelled) withdrawn."""
    status = (ListingStatus.fulfilled if fulfilled else ListingStatus.withdrawn).value
    if offer_id is not None:
        await db.execute(
            update(SurplusOffer)
            .where(SurplusOffer.id == offer_id, SurplusOffer.status == ListingStatus.matched.value)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
    if shortage_id is not None:
        await db.execute(
            update(ShortageRequest)
            .where(ShortageRequest.id == shortage_id, ShortageRequest.status == ListingStatus.matched.value)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )


async def claim_listing(
    db: AsyncSession, model: type[SurplusOffer] | type[ShortageRequest], listing_id: int
) -> bool:
    """Moves an open listing to matched; False when someone else matched (or withdrew) it first."""
    claimed = await db.execute(
        update(model)
        .where(model.id == listing_id, model.status == ListingStatus.open.value)
        .values(status=ListingStatus.matched.value)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1
