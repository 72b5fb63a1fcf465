"""Products (versioned dose rules as data) and inventory lots per location."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.dose_rules import ProductRule
from domain.schedule_defaults import LOT_PREFIXES, SEEDED_PRODUCTS
from records.db import Base, UTCDateTime, utcnow


class Product(Base):
    """One version of a product's rule; a new version is a new row, old journeys keep theirs."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    doses: Mapped[int] = mapped_column(Integer)
    interval_days: Mapped[int] = mapped_column(Integer)
    recommended_latest_days: Mapped[int] = mapped_column(Integer, default=42)
    grace_days: Mapped[int] = mapped_column(Integer, default=4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def rule(self) -> ProductRule:
        return ProductRule(
            code=self.code,
            name=self.name,
            version=self.version,
            doses=self.doses,
            interval_days=self.interval_days,
            recommended_latest_days=self.recommended_latest_days,
            grace_days=self.grace_days,
        )

    @classmethod
    def from_rule(cls, rule: ProductRule) -> Product:
        return cls(
            code=rule.code,
            version=rule.version,
            name=rule.name,
            doses=rule.doses,
            interval_days=rule.interval_days,
            recommended_latest_days=rule.recommended_latest_days,
            grace_days=rule.grace_days,
        )


async def current_product(db: AsyncSession, code: str) -> Product | None:
    """The newest version of a product (what a new journey starts with)."""
    newest = select(func.max(Product.version)).where(Product.code == code).scalar_subquery()
    return (
        await db.execute(select(Product).where(Product.code == code, Product.version == newest))
    ).scalar_one_or_none()


async def seed_products(db: AsyncSession) -> bool:
    """Adds the default product rules (version 1) that are not there yet."""
    existing = set((await db.execute(select(Product.code, Product.version))).all())
    missing = [rule for rule in SEEDED_PRODUCTS if (rule.code, rule.version) not in existing]
    for rule in missing:
        db.add(Product.from_rule(rule))
    return bool(missing)


class InventoryLot(Base):
    """A lot of a product held at a location; its doses come and go as events (records/inventory.py)."""

    __tablename__ = "inventory_lots"
    __table_args__ = (
        UniqueConstraint("location_id", "lot_number"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    lot_number: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # The running total of this lot's inventory events; written only by records.inventory.record_event.
    on_hand: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def demo_lot_number(product_code: str, location_code: str) -> str:
    prefix = LOT_PREFIXES.get(product_code, product_code.upper()[:3])
    return f"{prefix}-{location_code}-001"


async def seed_demo_lots(db: AsyncSession) -> bool:
    """One lot of each default product at every location that has none yet (demo stock)."""
    from records.locations import Location

    stocked = set((await db.execute(select(InventoryLot.location_id))).scalars())
    locations = (await db.execute(select(Location).where(Location.id.not_in(stocked or {0})))).scalars()
    seeded = False
    for location in locations:
        for rule in SEEDED_PRODUCTS:
            db.add(
                InventoryLot(
                    location_id=location.id,
                    product_code=rule.code,
                    lot_number=demo_lot_number(rule.code, location.code),
                    expires_on=date(2030, 12, 31),
                )
            )
            seeded = True
    return seeded
