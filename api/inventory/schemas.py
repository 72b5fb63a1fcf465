"""The inventory area's request and response models, and the demand answer with its warnings."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.stock_warnings import StockWarning, stock_warning
from domain.text import Line, Paragraph
from records.inventory import WasteReason
from services.inventory import (
    AuditOut,
    DemandDay,
    EventOut,
    InventoryOut,
    LotAudit,
    LotStock,
    ProductDemand,
    ProductStock,
    TransferOut,
)
from services.marketplace import ListingOut, MarketplaceOut, PostedOut

__all__ = [
    "AuditOut",
    "DemandDay",
    "DemandOut",
    "EventOut",
    "InventoryOut",
    "ListingOut",
    "LotAudit",
    "LotStock",
    "MarketplaceOut",
    "OfferIn",
    "PostedOut",
    "ProductDemand",
    "ProductStock",
    "ReceiptIn",
    "ShortageIn",
    "TransferIn",
    "TransferOut",
    "WasteIn",
    "demand_out",
]


class ReceiptIn(BaseModel):
    doses: int = Field(ge=1, le=1_000_000)
    note: Paragraph | None = Field(default=None, max_length=500)


class WasteIn(BaseModel):
    doses: int = Field(ge=1, le=1_000_000)
    reason: WasteReason
    note: Paragraph | None = Field(default=None, max_length=500)


class TransferIn(BaseModel):
    to_location_code: Line = Field(min_length=1, max_length=40)
    lot_id: int = Field(ge=1, le=2_147_483_647)
    doses: int = Field(ge=1, le=1_000_000)


class OfferIn(BaseModel):
    lot_id: int = Field(ge=1, le=2_147_483_647)
    doses: int = Field(ge=1, le=1_000_000)


class ShortageIn(BaseModel):
    product_code: Line = Field(min_length=1, max_length=40)
    doses: int = Field(ge=1, le=1_000_000)


class DemandOut(BaseModel):
    products: list[ProductDemand]
    warnings: list[StockWarning]


def demand_out(products: list[ProductDemand]) -> DemandOut:
    """The demand with a warning for every product at its first short day."""
    warnings = []
    for product in products:
        short = next((d for d in product.days if d.short_by), None)
        if short is not None:
            warnings.append(
                stock_warning(
                    "bookings_exceed_stock",
                    product.product_code,
                    booked=short.booked_to_date,
                    date=short.date,
                    stock=short.stock,
                    short=short.short_by,
                )
            )
    return DemandOut(products=products, warnings=warnings)
