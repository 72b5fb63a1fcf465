"""A journey outlives its worker, and its recorded histories replay deterministically."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Replayer

from api.app import create_app
from records.db import utcnow
from tests.conftest import eventually, login
from tests.journeys import (
    add_lot,
    book,
    document,
    link_token,
    mail,
    mails_to,
    new_product,
    new_recipient,
    publish_slot,
)
from worker.main import build_worker
from workflows.journey import JourneyWorkflow


async def test_a_series_completes_after_its_worker_stops_mid_series_and_no_email_goes_twice(
    temporal, settings, sessions, smtp
):
    # Its own task queue, API and workers, so stopping this worker leaves the session's alone.
    own = settings.model_copy(update={"temporal_task_queue": f"journey-restart-{uuid.uuid4().hex[:8]}"})
    app = create_app(own, temporal)
    product = await new_product(sessions, interval_days=5, latest_days=30, grace_days=1)
    lot = await add_lot(sessions, product)
    recipient = await new_recipient(sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cvms.test") as api:
        manager, scheduler, provider = [await login(api, n) for n in ("manager", "scheduler", "provider")]

        async with build_worker(temporal, own):
            slot = await publish_slot(api, manager, start_in=4, length=30, product=product)
            appointment = (await book(api, scheduler, recipient.id, slot["id"])).json()
            await mail(smtp, recipient.email, "confirmed")
            await mail(smtp, recipient.email, "Reminder")
            assert (
                await api.post(f"/appointments/{appointment['id']}/check-in", headers=provider)
            ).status_code == 200
            dose1 = await document(api, provider, recipient.id, product=product, lot=lot)
            assert dose1.status_code == 201, dose1.text
            due_at = utcnow() + timedelta(seconds=5 * settings.day_seconds)
        # The worker is gone; the dose-2-due timer comes and goes with nobody to act on it.

        async def past_due() -> bool:
            return utcnow() > due_at + timedelta(seconds=1)

        await eventually(past_due, timeout=30, what="the due instant to pass while the worker is down")
        assert not [m for m in mails_to(smtp, recipient.email) if "is due" in str(m["Subject"])]

        async with build_worker(temporal, own):  # a fresh worker: replays the history, carries on
            due = await mail(smtp, recipient.email, "Your dose 2 is due")
            slot2 = await publish_slot(api, manager, start_in=4, length=30, product=product)
            booked = await api.post(f"/r/book/{link_token(due, 'book')}", json={"slot_id": slot2["id"]})
            assert booked.status_code == 201, booked.text
            await eventually(
                lambda: _count(smtp, recipient.email, "Reminder", 2), timeout=30, what="dose 2 reminder"
            )
            assert (
                await api.post(f"/appointments/{booked.json()['id']}/check-in", headers=provider)
            ).status_code == 200
            dose2 = await document(api, provider, recipient.id, product=product, lot=lot)
            assert dose2.json()["series_complete"] is True, dose2.text
            await mail(smtp, recipient.email, "Your vaccination series is complete")
            handle = temporal.get_workflow_handle(appointment["journey_id"])
            await handle.result()
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    # Each message once: the confirmation and reminder of both appointments, due, complete.
    subjects = Counter(str(m["Subject"]).split(":")[0] for m in mails_to(smtp, recipient.email))
    assert subjects == Counter(
        {
            "Your vaccination appointment is confirmed": 2,
            "Reminder": 2,
            "Your dose 2 is due": 1,
            "Your vaccination series is complete": 1,
        }
    ), subjects
    assert smtp.store.duplicates() == {}


async def _count(smtp, address: str, subject_part: str, n: int) -> bool:
    return sum(subject_part in str(m["Subject"]) for m in mails_to(smtp, address)) >= n


async def test_recorded_journey_histories_replay_without_nondeterminism(api, temporal, sessions, smtp):
    # A journey of this test's own that takes most paths: book, reschedule, cancel, document, remove.
    manager, scheduler, provider = [await login(api, n) for n in ("manager", "scheduler", "provider")]
    recipient = await new_recipient(sessions)
    first = await publish_slot(api, manager, start_in=3600)
    second = await publish_slot(api, manager, start_in=7200)
    appointment = (await book(api, scheduler, recipient.id, first["id"])).json()
    moved = await api.post(
        f"/appointments/{appointment['id']}/reschedule", json={"slot_id": second["id"]}, headers=scheduler
    )
    assert moved.status_code == 200
    cancel = await api.post(
        f"/appointments/{appointment['id']}/cancel", json={"reason": "ill"}, headers=scheduler
    )
    assert cancel.status_code == 200
    dose = (await document(api, provider, recipient.id, product="pfizer", lot="PFI-WAKE-01-001")).json()
    removed = await api.post(f"/doses/{dose['id']}/remove", json={"reason": "wrong chart"}, headers=provider)
    assert removed.status_code == 200
    await mail(smtp, recipient.email, "is cancelled")

    # Plus every journey recorded so far in this session (newest first), closed or running.
    runs = [
        (execution.id, execution.run_id)
        async for execution in temporal.list_workflows("WorkflowType = 'JourneyWorkflow'", limit=80)
    ]
    histories = [await temporal.get_workflow_handle(i, run_id=r).fetch_history() for i, r in runs]
    if appointment["journey_id"] not in [i for i, _ in runs]:  # visibility lags a moment behind
        histories.append(await temporal.get_workflow_handle(appointment["journey_id"]).fetch_history())

    replayer = Replayer(workflows=[JourneyWorkflow], data_converter=temporal.data_converter)

    async def recorded() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    results = await replayer.replay_workflows(recorded(), raise_on_replay_failure=False)
    assert results.replay_failures == {}, results.replay_failures
    assert len(histories) >= 1


async def test_a_journey_left_with_nothing_booked_closes_and_the_next_booking_starts_it_afresh(
    temporal, settings, sessions
):
    own = settings.model_copy(
        update={"temporal_task_queue": f"journey-idle-{uuid.uuid4().hex[:8]}", "journey_idle_close_days": 1.0}
    )
    app = create_app(own, temporal)
    recipient, rival = await new_recipient(sessions), await new_recipient(sessions)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cvms.test") as api,
        build_worker(temporal, own),
    ):
        manager, scheduler = [await login(api, n) for n in ("manager", "scheduler")]
        full = await publish_slot(api, manager, start_in=3600, capacity=1)
        assert (await book(api, scheduler, rival.id, full["id"])).status_code == 201
        refused = await book(api, scheduler, recipient.id, full["id"])
        assert refused.status_code == 409 and refused.json()["code"] == "slot_full"
        handle = temporal.get_workflow_handle(f"journey-{recipient.id}-1")
        # A slot already full when read is refused before any workflow starts...
        with pytest.raises(RPCError):
            await handle.describe()
        # ...so leave a journey with nothing booked by cancelling its only appointment.
        first = await publish_slot(api, manager, start_in=3600, capacity=1)
        appointment = (await book(api, scheduler, recipient.id, first["id"])).json()
        cancelled = await api.post(
            f"/appointments/{appointment['id']}/cancel", json={"reason": "changed plans"}, headers=scheduler
        )
        assert cancelled.status_code == 200, cancelled.text

        async def closed() -> bool:
            return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

        await eventually(closed, timeout=30, what="the idle journey to close")
        open_slot = await publish_slot(api, manager, start_in=3600, capacity=1)
        booked = await book(api, scheduler, recipient.id, open_slot["id"])
        assert booked.status_code == 201, booked.text
        assert booked.json()["journey_id"] == f"journey-{recipient.id}-1"
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # a new run
