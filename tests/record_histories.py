"""Records one history per workflow type into tests/histories/, replayed by test_history_replay.py.

    .venv/bin/python -m tests.record_histories

runs the scenarios below on the test stack (dev server, worker, database, SMTP capture of
tests/conftest.py) and overwrites tests/histories/*.json. The file's name keeps it out of normal
runs; `python -m` runs pytest on it. Re-record after adding a workflow type (and commit the JSON);
a change that would break a running workflow is a `workflow.patched` step, not a re-recording.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from domain.email import email_workflow_id
from domain.helpdesk import case_workflow_id
from domain.scheduling import hold_workflow_id, waitlist_workflow_id
from domain.uploads import upload_workflow_id
from records.db import transaction, utcnow
from records.helpdesk import Requester
from tests import test_helpdesk
from tests import test_helpdesk_channels as channels
from tests.conftest import eventually, login
from tests.journeys import (
    add_lot,
    book,
    document,
    link_token,
    location_id,
    mail,
    new_product,
    new_recipient,
    publish_slot,
)
from tests.test_helpdesk import agent_headers, open_case, register_requester, with_key
from tests.test_recipient_uploads import _csv, mixed_rows, wait_until_done
from tests.test_waitlist import LAPSED, OFFER, _join

HISTORIES = Path(__file__).parent / "histories"

pytestmark = pytest.mark.record
fast_app, desk = test_helpdesk.fast_app, test_helpdesk.desk  # the help desk's fixtures (SLA of seconds)
receiver = channels.receiver  # the help-desk mail receiver


async def save(handle: WorkflowHandle, name: str) -> None:
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


async def completed(handle: WorkflowHandle) -> Any:
    """The workflow's result: it ran its whole life."""
    return await handle.result()


async def quiet(handle: WorkflowHandle) -> None:
    """A long-lived workflow with nothing in flight: its last task completed, no activity pending."""

    async def idle() -> bool:
        described = await handle.describe()
        if described.raw_description.pending_activities:
            return False
        events = (await handle.fetch_history()).events
        return events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED

    await eventually(idle, timeout=30, what=f"{handle.id} to be idle")


async def test_journey_two_doses_with_reschedule_cancellation_and_removed_dose(api, smtp, sessions, temporal):
    manager, scheduler, provider = [await login(api, n) for n in ("manager", "scheduler", "provider")]
    product = await new_product(sessions, interval_days=3, latest_days=30, grace_days=1)
    lot = await add_lot(sessions, product)
    recipient = await new_recipient(sessions)

    first = await publish_slot(api, manager, start_in=3600, product=product)
    booked = await book(api, scheduler, recipient.id, first["id"], dose_number=1)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    journey = temporal.get_workflow_handle(appointment["journey_id"])
    later = await publish_slot(api, manager, start_in=7200, product=product)
    moved = await api.post(
        f"/appointments/{appointment['id']}/reschedule", json={"slot_id": later["id"]}, headers=scheduler
    )
    assert moved.status_code == 200, moved.text
    cancelled = await api.post(
        f"/appointments/{appointment['id']}/cancel", json={"reason": "ill"}, headers=scheduler
    )
    assert cancelled.status_code == 200, cancelled.text

    soon = await publish_slot(api, manager, start_in=4, length=30, product=product)
    rebooked = await book(api, scheduler, recipient.id, soon["id"], dose_number=1)
    assert rebooked.status_code == 201, rebooked.text
    await mail(smtp, recipient.email, "Reminder")
    checked = await api.post(f"/appointments/{rebooked.json()['id']}/check-in", headers=provider)
    assert checked.status_code == 200, checked.text
    wrong = await document(api, provider, recipient.id, product=product, lot=lot)
    assert wrong.status_code == 201, wrong.text
    removed = await api.post(
        f"/doses/{wrong.json()['id']}/remove",
        json={"reason": "documented on the wrong chart"},
        headers=provider,
    )
    assert removed.status_code == 200, removed.text

    dose1 = await document(api, provider, recipient.id, product=product, lot=lot)
    assert dose1.status_code == 201 and dose1.json()["dose_number"] == 1, dose1.text
    await mail(smtp, recipient.email, "Your dose 2 is due")
    dose2 = await document(api, provider, recipient.id, product=product, lot=lot)
    assert dose2.status_code == 201 and dose2.json()["series_complete"] is True, dose2.text
    assert (await completed(journey))["complete"] is True
    await save(journey, "journey")


async def test_journey_announces_the_booster_due_then_ends(api, smtp, sessions, temporal):
    """A primary series its schedule follows with a booster: complete, it waits for the booster's
    due date (already past here), announces it, and ends."""
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    day = 2.0  # the test session's day_seconds
    for ago in (200, 179):
        given_at = utcnow() - timedelta(seconds=ago * day)
        dose = await document(
            api, provider, recipient.id, product="pfizer", lot="PFI-WAKE-01-001", given_at=given_at
        )
        assert dose.status_code == 201, dose.text
    journey = temporal.get_workflow_handle(dose.json()["journey_id"])
    await mail(smtp, recipient.email, "Your next dose is due")
    assert (await completed(journey))["complete"] is True
    await save(journey, "journey_booster")


async def test_case_through_its_whole_life(desk, smtp, sessions, temporal):
    email, requester = await register_requester(desk, smtp)
    number = (await open_case(desk, requester))["number"]
    agent = await agent_headers(desk)

    async def post(path: str, headers: dict[str, str], **body: Any) -> None:
        response = await desk.post(f"/helpdesk{path}", json=body, headers=headers)
        assert response.status_code == 200, response.text

    await post(f"/agent/cases/{number}/assign", agent)
    await post(f"/agent/cases/{number}/notes", agent, body="Internal: locked out", visibility="internal")
    await post(f"/agent/cases/{number}/notes", agent, body="Unlocked; try again.", visibility="public")
    await post(f"/agent/cases/{number}/pending", agent, body="Does it work now?")
    await post(f"/cases/{number}/reply", requester, body="Yes, thanks.")
    await post(f"/agent/cases/{number}/resolve", agent, resolution="Unlocked.")
    await post(f"/cases/{number}/reopen", requester)
    await post(f"/agent/cases/{number}/resolve", agent, resolution="Unlocked again.")
    await smtp.wait_for(with_key(f"case-{number}:closed"), timeout=30)
    case = temporal.get_workflow_handle(case_workflow_id(number))
    assert await completed(case) == "closed"
    await save(case, "case")

    async with transaction(sessions) as db:
        requester_id = (await db.execute(select(Requester.id).where(Requester.email == email))).scalar_one()
    confirm = temporal.get_workflow_handle(email_workflow_id(f"requester-{requester_id}:confirm"))
    await completed(confirm)
    await save(confirm, "send_email")


async def test_case_with_email_replies(desk, smtp, sessions, temporal, receiver):
    """A case opened by email; a reply to its email while pending, and one by its tag once resolved
    (the inbound_note update: open again, reopened)."""
    email, _requester = await register_requester(desk, smtp)
    first = channels.mail(email, "Printer prints blank labels", "Every label is blank.")
    await channels.deliver(receiver, first)
    case_id = (await channels.outcome(sessions, first)).case_id or 0
    number = (await channels.case_of(sessions, case_id)).number
    [received] = await smtp.wait_for(with_key(f"case-{number}:received"))
    agent = await agent_headers(desk)
    pending = await desk.post(
        f"/helpdesk/agent/cases/{number}/pending", json={"body": "Model?"}, headers=agent
    )
    assert pending.status_code == 200, pending.text
    reply = channels.mail(email, f"Re: {received['Subject']}", "A ZD421.", In_Reply_To=received["Message-ID"])
    await channels.deliver(receiver, reply)
    assert (await channels.outcome(sessions, reply)).status == "noted"
    resolved = await desk.post(
        f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": "New ribbon."}, headers=agent
    )
    assert resolved.status_code == 200, resolved.text
    again = channels.mail(email, f"[Case #{number}] blank again", "Blank again.")
    await channels.deliver(receiver, again)
    assert (await channels.outcome(sessions, again)).status == "noted"
    await smtp.wait_for(lambda m: m["To"] == email and "open again" in str(m["Subject"]))
    case = temporal.get_workflow_handle(case_workflow_id(number))

    async def settled() -> bool:
        # Still running (its timers wait for the SLA instants): nothing in flight, the mail sent.
        described = await case.describe()
        return not described.raw_description.pending_activities

    await eventually(settled, timeout=30, what=f"{case.id} with nothing in flight")
    await save(case, "case_email")


async def test_waitlist_offer_expires_and_passes_on(api, smtp, sessions, temporal):
    manager, scheduler = [await login(api, n) for n in ("manager", "scheduler")]
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    holder = await new_recipient(sessions)
    booked = await book(api, scheduler, holder.id, slot["id"])
    assert booked.status_code == 201, booked.text
    first, second = [await new_recipient(sessions, first_name=n) for n in ("Ana", "Ben")]
    await _join(api, scheduler, first.id, product)
    entry = await _join(api, scheduler, second.id, product)
    cancelled = await api.post(
        f"/appointments/{booked.json()['id']}/cancel", json={"reason": "cannot come"}, headers=scheduler
    )
    assert cancelled.status_code == 200, cancelled.text

    await mail(smtp, first.email, OFFER)
    await mail(smtp, first.email, LAPSED, timeout=40)
    offer = await mail(smtp, second.email, OFFER, timeout=40)
    accepted = await api.post(f"/r/waitlist-offers/{link_token(offer, 'waitlist-offers')}/accept")
    assert accepted.status_code == 201, accepted.text

    async def past_expiry() -> bool:  # the accepted offer's own timer has fired and settled
        [taken] = (await api.get(f"/waitlist/{entry['id']}", headers=scheduler)).json()["offers"]
        return utcnow() > _instant(taken["expires_at"]) + timedelta(seconds=1)

    await eventually(past_expiry, timeout=30, what="the accepted offer's hold to run out")
    loc = await location_id(sessions, "WAKE-01")
    waitlist = temporal.get_workflow_handle(waitlist_workflow_id(loc, product))
    await quiet(waitlist)
    await save(waitlist, "waitlist")


def _instant(iso: str) -> datetime:
    instant = datetime.fromisoformat(iso)
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


async def test_seat_hold_runs_out(api, temporal):
    manager, scheduler = [await login(api, n) for n in ("manager", "scheduler")]
    slot = await publish_slot(api, manager, start_in=3600, capacity=1)
    hold = await api.post(f"/slots/{slot['id']}/holds", headers=scheduler)
    assert hold.status_code == 201, hold.text
    handle = temporal.get_workflow_handle(hold_workflow_id(hold.json()["id"]))
    assert await completed(handle) is True
    await save(handle, "seat_hold")


async def test_csv_upload(api, sessions, temporal):
    manager = await login(api, "manager")
    rows, _names = mixed_rows("Rec", good=6)
    started = await api.post("/recipients/uploads", files=_csv(*rows), headers=manager)
    assert started.status_code == 202, started.text
    await wait_until_done(api, manager, started.json()["id"])
    handle = temporal.get_workflow_handle(upload_workflow_id(started.json()["id"]))
    await completed(handle)
    await save(handle, "upload")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
