"""Slots, lots and booking through the real API, workflow and database."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from records.db import transaction
from records.scheduling import Appointment, Slot
from tests.conftest import login
from tests.journeys import book, invite_of, mail, new_recipient, new_recipients, publish_slot, text_of, unique


async def test_booking_confirms_with_an_invite_and_a_retry_books_once(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    slot = await publish_slot(api, manager, start_in=3600, capacity=3)
    recipient = await new_recipient(sessions)
    key = unique("retry-")
    first = await api.post(
        "/appointments",
        json={"recipient_id": recipient.id, "slot_id": slot["id"]},
        headers={**scheduler, "Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    again = await api.post(
        "/appointments",
        json={"recipient_id": recipient.id, "slot_id": slot["id"]},
        headers={**scheduler, "Idempotency-Key": key},
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    async with transaction(sessions) as db:
        assert (await db.get(Slot, slot["id"])).booked == 1
        rows = (await db.execute(select(Appointment).where(Appointment.recipient_id == recipient.id))).all()
        assert len(rows) == 1

    message = await mail(smtp, recipient.email, "confirmed")
    assert message["Content-Language"] == "en"
    invite = invite_of(message)
    assert invite["method"] == "REQUEST"
    assert invite["uid"] == f"appointment-{first.json()['id']}@cvms"
    assert invite["sequence"] == 0
    assert "Wake County Public Health Center" in text_of(message)


async def test_two_hundred_concurrent_bookings_fill_five_seats_and_refuse_the_rest(api, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    slot = await publish_slot(api, manager, start_in=7200, capacity=5)
    recipients = await new_recipients(sessions, 200)

    responses = await asyncio.gather(*(book(api, scheduler, rid, slot["id"]) for rid in recipients))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 5, [r.text for r in responses if r.status_code not in (201, 409)][:3]
    assert statuses.count(409) == 195
    refusals = [r.json() for r in responses if r.status_code == 409]
    assert {r["code"] for r in refusals} == {"slot_full"}
    assert all(r["detail"] == "This slot is full; choose another." for r in refusals)
    async with transaction(sessions) as db:
        assert (await db.get(Slot, slot["id"])).booked == 5
        booked = (await db.execute(select(Appointment).where(Appointment.slot_id == slot["id"]))).all()
        assert len(booked) == 5
