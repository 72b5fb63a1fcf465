"""Inventory as events: every dose that enters or leaves a lot is one row of `inventory_events`.

On-hand is the sum of a lot's events. The lot also keeps `on_hand`, a running total that only
`record_event` moves, by the same amount and in the same transaction as the event it writes, so
the two cannot part (`audit_location` recomputes every lot from its events and lists any lot
where they differ). The running total exists for one reason: taking doses must be atomic with
the write that uses them. A conditional UPDATE (`on_hand >= n`) takes the row lock on
PostgreSQL and re-checks after a concurrent writer commits; on SQLite every transaction is
BEGIN IMMEDIATE. A "sum the events, then insert" check could let two concurrent documenters
both see the last dose on PostgreSQL (READ COMMITTED), and the lot would go negative.
A CHECK constraint (`on_hand >= 0`) backs this up in the schema.

Doses move stock through their own events (dose_id set): documenting takes one
(`administered`), removing it in error gives it back (`returned`), correcting its lot moves it
(`moved`, -1 on the new lot, +1 on the old). Which lot holds a dose's unit is itself derived from
those events, so a dose documented before inventory was kept moves nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.schedule_defaults import SEEDED_PRODUCTS
from records.db import Base, UTCDateTime, utcnow
from records.products import InventoryLot, demo_lot_number


class EventKind(enum.StrEnum):
    received = "received"
    transfer_out = "transfer_out"
    transfer_in = "transfer_in"
    wasted = "wasted"
    administered = "administered"
    returned = "returned"  # a dose removed in error
    moved = "moved"  # a dose's lot corrected: -1 on the new lot, +1 on the old


class WasteReason(enum.StrEnum):
    expired = "expired"
    broken_vial = "broken_vial"
    drawn_not_given = "drawn_not_given"


class InventoryEvent(Base):
    __tablename__ = "inventory_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lots.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    # Signed: doses into the lot are positive, out of it negative.
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    dose_id: Mapped[int | None] = mapped_column(ForeignKey("doses.id"), nullable=True, index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TransferStatus(enum.StrEnum):
    proposed = "proposed"  # waiting for one or both managers
    completed = "completed"  # both confirmed: out of one lot, into the other
    cancelled = "cancelled"


class Transfer(Base):
    """Doses of one lot moving between two locations; recorded on both sides once both managers confirm."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    to_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("inventory_lots.id"))
    received_lot_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_lots.id"), nullable=True)
    product_code: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=TransferStatus.proposed.value, index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("surplus_offers.id"), nullable=True)
    shortage_id: Mapped[int | None] = mapped_column(ForeignKey("shortage_requests.id"), nullable=True)
    sender_confirmed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    receiver_confirmed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutOfStock(Exception):
    """A lot holds fewer doses than an event would take."""

    def __init__(self, lot: InventoryLot, wanted: int, on_hand: int) -> None:
        self.lot_number = lot.lot_number
        self.wanted = wanted
        self.on_hand = on_hand
        super().__init__(
            f"lot {lot.lot_number} has {on_hand} dose{'s' if on_hand != 1 else ''} left; "
            f"{wanted} {'were' if wanted != 1 else 'was'} needed"
        )


async def record_event(
    db: AsyncSession,
    lot: InventoryLot,
    kind: EventKind,
    quantity: int,
    *,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
    dose_id: int | None = None,
    transfer_id: int | None = None,
) -> InventoryEvent:
    """Writes one event and moves the lot's running total with it; taking more than the lot
    holds raises OutOfStock (the caller's transaction then rolls back, event and all)."""
    change = update(InventoryLot).where(InventoryLot.id == lot.id)
    if quantity < 0:
        change = change.where(InventoryLot.on_hand >= -quantity)
    moved = await db.execute(
        change.values(on_hand=InventoryLot.on_hand + quantity).execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise OutOfStock(lot, -quantity, await lot_on_hand(db, lot.id))
    event = InventoryEvent(
        location_id=lot.location_id,
        lot_id=lot.id,
        product_code=lot.product_code,
        kind=kind.value,
        quantity=quantity,
        reason=reason,
        note=note,
        dose_id=dose_id,
        transfer_id=transfer_id,
        actor=actor,
    )
    db.add(event)
    await db.flush()
    return event


async def lot_on_hand(db: AsyncSession, lot_id: int) -> int:
    return (await db.execute(select(InventoryLot.on_hand).where(InventoryLot.id == lot_id))).scalar_one()


async def lot_by_number(db: AsyncSession, location_id: int, lot_number: str) -> InventoryLot | None:
    return (
        await db.execute(
            select(InventoryLot).where(
                InventoryLot.location_id == location_id, InventoryLot.lot_number == lot_number
            )
        )
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- doses


async def take_for_dose(
    db: AsyncSession, *, dose_id: int, location_id: int, lot_number: str, actor: str
) -> None:
    """The dose just documented takes one dose of its lot (OutOfStock when the lot is empty)."""
    lot = await lot_by_number(db, location_id, lot_number)
    if lot is None:
        raise LookupError(f"lot {lot_number} is not in this location's inventory")
    await record_event(db, lot, EventKind.administered, -1, actor=actor, dose_id=dose_id)


async def _lot_holding_dose(db: AsyncSession, dose_id: int) -> InventoryLot | None:
    """The lot the dose's unit was last taken from, by its events (None: nothing taken, or given back)."""
    lot_id = (
        await db.execute(
            select(InventoryEvent.lot_id)
            .where(InventoryEvent.dose_id == dose_id)
            .group_by(InventoryEvent.lot_id)
            .having(func.sum(InventoryEvent.quantity) < 0)
        )
    ).scalar_one_or_none()
    return await db.get(InventoryLot, lot_id) if lot_id is not None else None


async def return_for_dose(db: AsyncSession, *, dose_id: int, actor: str, reason: str | None) -> None:
    """A dose removed in error gives its unit back to the lot it came from."""
    lot = await _lot_holding_dose(db, dose_id)
    if lot is not None:
        await record_event(
            db, lot, EventKind.returned, 1, actor=actor, dose_id=dose_id, reason="removed", note=reason
        )


async def move_for_dose(
    db: AsyncSession, *, dose_id: int, location_id: int, lot_number: str, actor: str, reason: str | None
) -> None:
    """A dose's lot was corrected: the new lot gives one (OutOfStock when empty), the old gets it back."""
    old = await _lot_holding_dose(db, dose_id)
    if old is None or old.lot_number == lot_number:
        return
    new = await lot_by_number(db, location_id, lot_number)
    if new is None:
        raise LookupError(f"lot {lot_number} is not in this location's inventory")
    await record_event(db, new, EventKind.moved, -1, actor=actor, dose_id=dose_id, note=reason)
    await record_event(db, old, EventKind.moved, 1, actor=actor, dose_id=dose_id, note=reason)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LotBalance:
    lot_id: int
    on_hand: int  # the running total
    from_events: int  # recomputed from the events


async def audit_location(db: AsyncSession, location_id: int) -> list[LotBalance]:
    """Every lot of the location, its running total beside the sum of its events."""
    sums = (
        select(InventoryEvent.lot_id, func.sum(InventoryEvent.quantity).label("total"))
        .group_by(InventoryEvent.lot_id)
        .subquery()
    )
    rows = await db.execute(
        select(InventoryLot.id, InventoryLot.on_hand, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.lot_id == InventoryLot.id)
        .where(InventoryLot.location_id == location_id)
        .order_by(InventoryLot.id)
    )
    return [LotBalance(lot_id, on_hand, int(total)) for lot_id, on_hand, total in rows.all()]


async def stock_by_product(db: AsyncSession, location_id: int, usable_on: date) -> dict[str, int]:
    """Doses on hand per product in lots not expired on `usable_on`."""
    rows = await db.execute(
        select(InventoryLot.product_code, func.sum(InventoryLot.on_hand))
        .where(InventoryLot.location_id == location_id, InventoryLot.expires_on >= usable_on)
        .group_by(InventoryLot.product_code)
    )
    return {code: int(total or 0) for code, total in rows.all()}


async def seed_demo_stock(db: AsyncSession) -> bool:
    """The demo lots that never received anything receive a delivery (so the demo can document)."""
    from records.locations import Location

    received = select(InventoryEvent.lot_id).where(InventoryEvent.kind == EventKind.received.value)
    demo_numbers = [
        demo_lot_number(rule.code, code)
        for code in (await db.execute(select(Location.code))).scalars()
        for rule in SEEDED_PRODUCTS
    ]
    lots = (
        (
            await db.execute(
                select(InventoryLot).where(
                    InventoryLot.id.not_in(received), InventoryLot.lot_number.in_(demo_numbers)
                )
            )
        )
        .scalars()
        .all()
    )
    for lot in lots:
        await record_event(db, lot, EventKind.received, DEMO_DELIVERY, actor="system", note="demo stock")
    return bool(lots)


DEMO_DELIVERY = 5000


# --------------------------------------------------------------------------- transfers


class TransferRefused(Exception):
    """A transfer that cannot complete: the receiving side holds its lot number for another product."""


async def confirm_transfer(db: AsyncSession, transfer: Transfer, *, side: str, actor: str) -> bool:
    """One manager's confirmation (side "sender" or "receiver"); the second one moves the doses:
    out of the sending lot and into the receiving location's lot of the same number, in one
    transaction. True when this call completed the transfer."""
    column = Transfer.sender_confirmed_by if side == "sender" else Transfer.receiver_confirmed_by
    await db.execute(
        update(Transfer)
        .where(Transfer.id == transfer.id, Transfer.status == TransferStatus.proposed.value, column.is_(None))
        .values({column.key: actor})
        .execution_options(synchronize_session=False)
    )
    # Conditional on both confirmations and on "proposed": exactly one caller completes it.
    completed = await db.execute(
        update(Transfer)
        .where(
            Transfer.id == transfer.id,
            Transfer.status == TransferStatus.proposed.value,
            Transfer.sender_confirmed_by.is_not(None),
            Transfer.receiver_confirmed_by.is_not(None),
        )
        .values(status=TransferStatus.completed.value, completed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if completed.rowcount != 1:
        await db.refresh(transfer)
        return False
    source = await db.get(InventoryLot, transfer.lot_id)
    assert source is not None
    target = await lot_by_number(db, transfer.to_location_id, source.lot_number)
    if target is None:
        target = InventoryLot(
            location_id=transfer.to_location_id,
            product_code=source.product_code,
            lot_number=source.lot_number,
            expires_on=source.expires_on,
        )
        db.add(target)
        await db.flush()
    elif target.product_code != source.product_code:
        raise TransferRefused(
            f"the receiving location holds lot {target.lot_number} as {target.product_code}, "
            f"not {source.product_code}"
        )
    await record_event(
        db, source, EventKind.transfer_out, -transfer.quantity, actor=actor, transfer_id=transfer.id
    )
    await record_event(
        db, target, EventKind.transfer_in, transfer.quantity, actor=actor, transfer_id=transfer.id
    )
    await db.execute(
        update(Transfer)
        .where(Transfer.id == transfer.id)
        .values(received_lot_id=target.id)
        .execution_options(synchronize_session=False)
    )
    await db.refresh(transfer)
    return True
