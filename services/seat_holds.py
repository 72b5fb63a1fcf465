"""Seat holds: one seat of a slot set aside while a person registers (staff, a recipient's link,
self-booking from the finder), with the durable timer that gives it back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Conflict, NotFound
from domain.scheduling import HoldPurpose, HoldStatus, SeatHoldInput, hold_workflow_id
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.holds import SeatHold, hold_seat
from records.locations import Location
from records.scheduling import Slot
from services.scheduling import bookable, require_scheduling, slot_full
from services.temporal import TemporalGateway
from services.workflow_starts import promise_start
from workflows.waitlist import SeatHoldWorkflow


async def place_hold(
    db: AsyncSession, temporal: TemporalGateway, settings: Settings, *, slot: Slot, held_by: str
) -> SeatHold:
    """Shared by staff and the recipient's booking link: sets one seat of the slot aside for
    CVMS_SEAT_HOLD_SECONDS, with the workflow whose timer gives it back (409 when full)."""
    bookable(slot)
    hold = await hold_seat(
        db,
        slot,
        purpose=HoldPurpose.registration,
        expires_at=utcnow() + timedelta(seconds=settings.seat_hold_seconds),
        held_by=held_by,
    )
    if hold is None:
        raise slot_full(slot.id)
    audit(
        db,
        actor=held_by,
        location_id=slot.location_id,
        entity="seat_hold",
        entity_id=hold.id,
        action="hold",
        changes={"slot_id": [None, slot.id], "expires_at": [None, hold.expires_at.isoformat()]},
    )
    # The timer that gives the seat back is promised in the hold's own transaction and started
    # once it commits (a reconciler starts any promise a crash left): a hold is never left without
    # it, and the transaction (on SQLite, the one write lock) does not wait on Temporal meanwhile.
    # Waiting on the start here made every writer queue behind a Temporal round trip on launch day.
    await promise_start(
        db,
        temporal,
        None,
        run=SeatHoldWorkflow.run,
        argument=SeatHoldInput(hold.id, hold.expires_at),
        workflow_id=hold_workflow_id(hold.id),
    )
    return hold


async def give_back(temporal: TemporalGateway, hold: SeatHold) -> None:
    """Asks the hold's workflow to release the seat now (a hold that ended stays as it is)."""
    if hold.purpose != HoldPurpose.registration:
        raise Conflict("a waitlist offer's seat is released when the offer runs out", code="not_registration")
    if hold.status == HoldStatus.held:
        # Its timer may not have started yet (it is started once the hold commits): started here
        # with the release, it gives the seat back at once; the promised start then finds it.
        await temporal.signal_with_start(
            SeatHoldWorkflow.run,
            SeatHoldInput(hold.id, hold.expires_at),
            workflow_id=hold_workflow_id(hold.id),
            signal="release",  # SeatHoldWorkflow.release
            signal_argument=None,
        )


# --------------------------------------------------------------------------- seat holds by staff


async def hold_a_seat(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    slot: Slot,
    actor: str,
) -> SeatHold:
    """Staff set a seat aside while the person registers (409 when full)."""
    require_scheduling(location)
    return await place_hold(db, temporal, settings, slot=slot, held_by=actor)


async def hold_at(db: AsyncSession, location_id: int, hold_id: int) -> SeatHold:
    """A hold at the location; another location's is not found."""
    hold = (
        await db.execute(select(SeatHold).where(SeatHold.id == hold_id, SeatHold.location_id == location_id))
    ).scalar_one_or_none()
    if hold is None:
        raise NotFound("no such seat hold at this location")
    return hold
