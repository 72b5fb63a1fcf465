"""Many booked journeys at once, for the reminder and scale benchmarks.

The records (recipients, journeys, slots, booked appointments) are inserted in
bulk, and each journey workflow is started from them exactly as the API starts a
journey from its records (`services/journeys.journey_snapshot`): the workflow then
waits on its appointment's timers like any booked series. Booking them one by
one through the API would measure bookings (bench/booking.py does that), and
their confirmation email would still be draining when the reminders fall due.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client

from bench.stack import Stack
from domain.journey_messages import AppointmentFact, journey_id
from records.db import transaction
from records.journeys import Journey
from records.locations import Location
from records.products import Product
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from workflows.journey import JourneyInput, JourneyWorkflow

# The appointment ends long after the benchmark: only its reminder fires while we measure.
APPOINTMENT_LENGTH = timedelta(hours=2)


async def booked_journeys(
    s: Stack, reminders_at: Sequence[datetime], *, lead_seconds: float, tag: str
) -> list[JourneyInput]:
    """One booked first-dose journey per instant, whose reminder falls due at that instant."""
    async with transaction(s.sessions) as db:
        location = (await db.execute(select(Location).where(Location.code == "WAKE-01"))).scalar_one()
        product = (
            (
                await db.execute(
                    select(Product).where(Product.code == "pfizer").order_by(Product.version.desc())
                )
            )
            .scalars()
            .first()
        )
        assert product is not None
        rule = product.rule()
        recipients = []
        for i in range(len(reminders_at)):
            recipient = Recipient(
                first_name="Bench",
                last_name=f"Reminded{i}",
                date_of_birth=date(1980, 1, 1),
                sex="unknown",
                email=f"{tag}-{i}@bench.test",
            )
            recipient.refresh_search_keys()
            recipients.append(recipient)
        db.add_all(recipients)
        slots = {}
        for due in sorted(set(reminders_at)):
            start = due + timedelta(seconds=lead_seconds)
            slots[due] = Slot(
                location_id=location.id,
                start_at=start,
                end_at=start + APPOINTMENT_LENGTH,
                capacity=len(reminders_at),
                booked=0,
                product_code=rule.code,
            )
        db.add_all(slots.values())
        await db.flush()
        appointments = []
        for recipient, due in zip(recipients, reminders_at, strict=True):
            slot = slots[due]
            slot.booked += 1
            jid = journey_id(recipient.id, 1)
            db.add(
                Journey(
                    id=jid,
                    recipient_id=recipient.id,
                    series_no=1,
                    product_code=rule.code,
                    product_version=rule.version,
                )
            )
            appointments.append(
                Appointment(
                    journey_id=jid,
                    recipient_id=recipient.id,
                    location_id=location.id,
                    slot_id=slot.id,
                    start_at=slot.start_at,
                    end_at=slot.end_at,
                    product_code=rule.code,
                    dose_number=1,
                    idempotency_key=uuid.uuid4().hex,
                    booked_by="bench",
                )
            )
        db.add_all(appointments)
        await db.flush()
        return [
            JourneyInput(
                journey_id=a.journey_id,
                recipient_id=a.recipient_id,
                series_no=1,
                day_seconds=s.settings.day_seconds,
                reminder_lead_seconds=lead_seconds,
                rule=rule,
                appointment=AppointmentFact.of(a),
            )
            for a in appointments
        ]


async def in_parallel(
    items: Sequence[Any], one: Callable[[Any], Awaitable[Any]], concurrency: int = 50
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def guarded(item: Any) -> None:
        async with gate:
            await one(item)

    await asyncio.gather(*(guarded(item) for item in items))


async def start_journeys(client: Client, snapshots: Sequence[JourneyInput], task_queue: str) -> None:
    async def start(snapshot: JourneyInput) -> None:
        await client.start_workflow(
            JourneyWorkflow.run, snapshot, id=snapshot.journey_id, task_queue=task_queue
        )

    await in_parallel(snapshots, start)
