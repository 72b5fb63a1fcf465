"""Helpers for the waitlist, seat-hold and eligibility tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.scheduling import EntryStatus, HoldStatus
from records.db import transaction, utcnow
from records.holds import SeatHold
from records.waitlist import WaitlistEntry
from tests.journeys import foreign_records, location_id, new_recipient


async def foreign_hold(sessions: Any) -> int:
    """A (released) seat hold at BUNC-02."""
    slot_id = (await foreign_records(sessions))["slot_id"]
    bunc = await location_id(sessions, "BUNC-02")
    async with transaction(sessions) as db:
        hold = SeatHold(
            slot_id=slot_id,
            location_id=bunc,
            purpose="registration",
            status=HoldStatus.released.value,
            expires_at=utcnow(),
            held_by="test",
        )
        db.add(hold)
        await db.flush()
        return hold.id


async def foreign_waitlist_entry(sessions: Any) -> int:
    """A removed waitlist entry at BUNC-02."""
    bunc = await location_id(sessions, "BUNC-02")
    recipient = await new_recipient(sessions)
    async with transaction(sessions) as db:
        entry = WaitlistEntry(
            location_id=bunc,
            recipient_id=recipient.id,
            product_code="pfizer",
            earliest_date=date.today(),
            latest_date=date.today() + timedelta(days=7),
            status=EntryStatus.removed.value,
            added_by="test",
        )
        db.add(entry)
        await db.flush()
        return entry.id
