"""The booking's hot path, cut for speed (issue 23), keeps what a booking guarantees: the seat
claimed once and atomically, a retry answered with its first appointment, the series found as
before; and the worker runs workflow activations on a few threads, not one per task."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError

from activities.journey import JourneyActivities
from domain.journey_messages import BookStep, JourneyStatus, journey_id
from domain.refusals import REFUSED
from records.audit import AuditEntry
from records.db import transaction
from records.journeys import Journey
from records.products import current_product
from records.scheduling import Appointment, Slot
from services.journeys import current_series, journey_snapshot
from services.scheduling import slot_fact
from tests.conftest import login
from tests.journeys import book, new_recipient, publish_slot, unique
from worker.main import WORKFLOW_THREADS


async def _step(sessions, slot_id: int, recipient_id: int, key: str, actor: str) -> BookStep:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as db:
        slot = await db.get(Slot, slot_id)
        product = await current_product(db, slot.product_code)
        return BookStep(
            journey_id=journey_id(recipient_id, 1),
            recipient_id=recipient_id,
            series_no=1,
            rule=product.rule(),
            slot=slot_fact(slot),
            dose_number=1,
            idempotency_key=key,
            actor=actor,
        )


async def test_the_seat_is_claimed_once_and_a_full_slot_leaves_nothing_behind(api, sessions, settings):
    manager = await login(api, "manager")
    slot = await publish_slot(api, manager, start_in=86400, capacity=1)
    first, second = await new_recipient(sessions), await new_recipient(sessions)
    steps = JourneyActivities(settings, sessions)
    actor = unique("user:test-")

    booked = await steps.book_appointment(await _step(sessions, slot["id"], first.id, "k1", actor))
    again = await steps.book_appointment(await _step(sessions, slot["id"], first.id, "k1", actor))
    assert again.appointment_id == booked.appointment_id  # a retried step finds its own work

    # The claim now comes after the appointment and audit rows: a full slot rolls them back.
    with pytest.raises(ApplicationError) as refusal:
        await steps.book_appointment(await _step(sessions, slot["id"], second.id, "k2", actor))
    assert refusal.value.type == REFUSED
    assert refusal.value.details[0]["code"] == "slot_full"

    async with transaction(sessions) as db:
        assert (await db.get(Slot, slot["id"])).booked == 1
        counted = select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot["id"])
        assert (await db.execute(counted)).scalar_one() == 1
        assert await db.get(Journey, journey_id(second.id, 1)) is None
        audited = select(func.count()).where(
            AuditEntry.entity == "appointment", AuditEntry.entity_id == str(booked.appointment_id)
        )
        assert (await db.execute(audited)).scalar_one() == 1
        assert (await db.execute(select(func.count()).where(AuditEntry.actor == actor))).scalar_one() == 1


async def test_the_current_series_is_the_newest_open_one_else_the_next_number(api, sessions, settings):
    recipient = await new_recipient(sessions)
    async with transaction(sessions) as db:
        assert await current_series(db, recipient.id) == (journey_id(recipient.id, 1), 1)
        fresh = await journey_snapshot(db, settings, recipient.id, 1)
        assert (fresh.doses, fresh.appointment, fresh.rule, fresh.removals) == ([], None, None, 0)
        done, open_ = JourneyStatus.complete.value, JourneyStatus.active.value
        db.add(Journey(id=journey_id(recipient.id, 1), recipient_id=recipient.id, series_no=1, status=done))
        await db.flush()
        assert await current_series(db, recipient.id) == (journey_id(recipient.id, 2), 2)
        db.add(Journey(id=journey_id(recipient.id, 2), recipient_id=recipient.id, series_no=2, status=open_))
        db.add(Journey(id=journey_id(recipient.id, 3), recipient_id=recipient.id, series_no=3, status=done))
        await db.flush()
        assert await current_series(db, recipient.id) == (journey_id(recipient.id, 2), 2)


async def test_a_begun_series_snapshot_carries_its_appointment(api, sessions, settings):
    manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
    slot = await publish_slot(api, manager, start_in=86400, capacity=2)
    recipient = await new_recipient(sessions)
    response = await book(api, scheduler, recipient.id, slot["id"])
    assert response.status_code == 201, response.text
    async with transaction(sessions) as db:
        snapshot = await journey_snapshot(db, settings, recipient.id, 1)
    assert snapshot.appointment is not None
    assert snapshot.appointment.appointment_id == response.json()["id"]
    assert snapshot.rule is not None


async def test_workflow_activations_run_on_a_few_threads(worker):
    assert worker.workflow_threads._max_workers == WORKFLOW_THREADS  # noqa: SLF001
    assert not worker.workflow_threads._shutdown  # noqa: SLF001
