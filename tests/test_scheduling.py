"""Slots, lots and booking through the real API, workflow and database."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from domain.security import sign_link
from records.db import transaction
from records.scheduling import Appointment, Slot
from tests.conftest import eventually, login
from tests.journeys import (
    book,
    invite_of,
    link_token,
    mail,
    new_recipient,
    new_recipients,
    publish_slot,
    text_of,
    unique,
)


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


async def test_an_appointment_passing_without_check_in_becomes_missed_with_a_rebooking_link(
    api, smtp, sessions
):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    recipient = await new_recipient(sessions, language="es")
    slot = await publish_slot(api, manager, start_in=2, length=1)
    booked = await book(api, scheduler, recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    async def missed():
        response = await api.get(f"/appointments/{appointment_id}", headers=scheduler)
        return response.json()["status"] == "missed"

    await eventually(missed, timeout=30, what="the appointment to become missed at the slot's end")
    message = await mail(smtp, recipient.email, "No lo vimos en su cita de vacunación")
    assert message["Content-Language"] == "es"
    rebook = await api.get(f"/r/book/{link_token(message, 'book')}")
    assert rebook.status_code == 200 and rebook.json()["dose_number"] == 1
    listed = await api.get(
        "/appointments", params={"status": "missed", "recipient_id": recipient.id}, headers=scheduler
    )
    assert [a["id"] for a in listed.json()] == [appointment_id]
    late = await api.post(f"/appointments/{appointment_id}/check-in", headers=scheduler)
    assert late.status_code == 409 and late.json()["code"] == "appointment_status"


async def test_a_scheduler_marks_a_no_show_once_the_appointment_has_started(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=1.5, length=600)
    appointment_id = (await book(api, scheduler, recipient.id, slot["id"])).json()["id"]
    early = await api.post(f"/appointments/{appointment_id}/no-show", headers=scheduler)
    assert early.status_code == 409 and early.json()["code"] == "not_started"

    async def marked():
        response = await api.post(f"/appointments/{appointment_id}/no-show", headers=scheduler)
        return response.status_code == 200 and response.json()["status"] == "missed"

    await eventually(marked, timeout=15, what="no-show accepted after the start")
    await mail(smtp, recipient.email, "We missed you")


async def test_reschedule_keeps_the_invite_uid_with_a_higher_sequence_and_cancel_sends_a_cancel(
    api, smtp, sessions
):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    first = await publish_slot(api, manager, start_in=3600, capacity=2)
    second = await publish_slot(api, manager, start_in=7200, capacity=2)
    appointment = (await book(api, scheduler, recipient.id, first["id"])).json()
    confirmed = invite_of(await mail(smtp, recipient.email, "confirmed"))

    moved = await api.post(
        f"/appointments/{appointment['id']}/reschedule", json={"slot_id": second["id"]}, headers=scheduler
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot_id"] == second["id"] and moved.json()["invite_sequence"] == 1
    rescheduled = await mail(smtp, recipient.email, "has moved to")
    invite = invite_of(rescheduled)
    assert invite["uid"] == confirmed["uid"]
    assert invite["method"] == "REQUEST" and invite["sequence"] == 1
    assert invite["start"].isoformat().replace("+00:00", "Z") == second["start_at"].replace("+00:00", "Z")
    seats = {s["id"]: s["booked"] for s in (await api.get("/slots", headers=scheduler)).json()}
    assert seats[first["id"]] == 0 and seats[second["id"]] == 1

    no_reason = await api.post(f"/appointments/{appointment['id']}/cancel", json={}, headers=scheduler)
    assert no_reason.status_code == 422
    cancelled = await api.post(
        f"/appointments/{appointment['id']}/cancel", json={"reason": "recipient is unwell"}, headers=scheduler
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    message = await mail(smtp, recipient.email, "is cancelled")
    invite = invite_of(message)
    assert invite["uid"] == confirmed["uid"]
    assert invite["method"] == "CANCEL" and invite["sequence"] == 2 and invite["status"] == "CANCELLED"
    assert "/r/book/" in text_of(message)  # to book again
    seats = {s["id"]: s["booked"] for s in (await api.get("/slots", headers=scheduler)).json()}
    assert seats[second["id"]] == 0


async def test_a_full_or_closed_slot_is_a_409_and_search_finds_appointments_by_day_status_and_recipient(
    api, sessions
):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    slot = await publish_slot(api, manager, start_in=3 * 3600, capacity=1)
    alice, bob = await new_recipient(sessions), await new_recipient(sessions)
    assert (await book(api, scheduler, alice.id, slot["id"])).status_code == 201
    full = await book(api, scheduler, bob.id, slot["id"])
    assert full.status_code == 409 and full.json()["code"] == "slot_full"

    other = await publish_slot(api, manager, start_in=4 * 3600, capacity=4)
    closed = await api.post(f"/slots/{other['id']}/close", headers=manager)
    assert closed.json()["is_open"] is False and closed.json()["seats_left"] == 0
    refused = await book(api, scheduler, bob.id, other["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "slot_closed"

    day = datetime.fromisoformat(slot["start_at"]).astimezone(ZoneInfo("America/New_York")).date()
    found = await api.get(
        "/appointments",
        params={"day": day.isoformat(), "status": "booked", "recipient_id": alice.id},
        headers=scheduler,
    )
    assert [a["recipient_id"] for a in found.json()] == [alice.id]
    assert found.json()[0]["recipient_name"] == alice.full_name
    none = await api.get(
        "/appointments", params={"status": "cancelled", "recipient_id": alice.id}, headers=scheduler
    )
    assert none.json() == []
    available = await api.get(
        "/slots", params={"available_only": True, "day": day.isoformat()}, headers=scheduler
    )
    assert slot["id"] not in [s["id"] for s in available.json()]


async def test_tampered_or_expired_recipient_links_are_refused_and_change_nothing(
    api, smtp, sessions, settings
):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600)
    appointment = (await book(api, scheduler, recipient.id, slot["id"])).json()
    token = link_token(await mail(smtp, recipient.email, "confirmed"), "appointments")

    seen = await api.get(f"/r/appointments/{token}")
    assert seen.status_code == 200 and seen.json()["id"] == appointment["id"]
    assert seen.json()["location"]["time_zone"] == "America/New_York"

    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = await api.post(f"/r/appointments/{tampered}/cancel", json={})
    assert refused.status_code == 403 and refused.json()["code"] == "link_invalid"
    # a link signed for another purpose is not a key to this one
    foreign = sign_link(
        settings.secret_key, "record", {"a": appointment["id"], "j": appointment["journey_id"]}
    )
    assert (await api.post(f"/r/appointments/{foreign}/cancel", json={})).status_code == 403

    expired = _signed_long_ago(
        settings.secret_key, "appointment", {"a": appointment["id"], "j": appointment["journey_id"]}
    )
    gone = await api.post(f"/r/appointments/{expired}/cancel", json={})
    assert gone.status_code == 410 and gone.json()["code"] == "link_expired"

    still = await api.get(f"/appointments/{appointment['id']}", headers=scheduler)
    assert still.json()["status"] == "booked"

    cancelled = await api.post(f"/r/appointments/{token}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    await mail(smtp, recipient.email, "is cancelled")


def _signed_long_ago(secret: str, purpose: str, payload: dict) -> str:
    """A genuine signature whose timestamp is older than any link may live."""

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 10 * 365 * 86400

    return URLSafeTimedSerializer(secret, salt=f"cvms:{purpose}", signer=LongAgo).dumps(payload)


async def test_a_recipient_moves_their_appointment_through_the_signed_link(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    recipient = await new_recipient(sessions)
    first = await publish_slot(api, manager, start_in=3600)
    later = await publish_slot(api, manager, start_in=5400)
    appointment = (await book(api, scheduler, recipient.id, first["id"])).json()
    confirmed = await mail(smtp, recipient.email, "confirmed")
    token = link_token(confirmed, "appointments")

    moved = await api.post(f"/r/appointments/{token}/reschedule", json={"slot_id": later["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["slot_id"] == later["id"]
    invite = invite_of(await mail(smtp, recipient.email, "has moved to"))
    assert invite["uid"] == invite_of(confirmed)["uid"] and invite["sequence"] == 1
    seen = await api.get(f"/r/appointments/{token}")
    assert seen.json()["slot_id"] == later["id"] and seen.json()["status"] == "booked"
    record = await api.get(f"/appointments/{appointment['id']}", headers=scheduler)
    assert record.json()["invite_sequence"] == 1


async def test_managers_keep_lots_and_publish_slots_and_bad_ones_are_refused(api):
    manager = await login(api, "manager")
    provider = await login(api, "provider")
    lot_number = unique("lot-")
    added = await api.post(
        "/lots",
        json={"product_code": "moderna", "lot_number": lot_number, "expires_on": "2031-06-30"},
        headers=manager,
    )
    assert added.status_code == 201, added.text
    assert added.json()["lot_number"] == lot_number.upper()
    again = await api.post(
        "/lots",
        json={"product_code": "moderna", "lot_number": lot_number, "expires_on": "2031-06-30"},
        headers=manager,
    )
    assert again.status_code == 409 and again.json()["code"] == "duplicate_lot"
    unknown = await api.post(
        "/lots",
        json={"product_code": "snake-oil", "lot_number": "X1", "expires_on": "2031-06-30"},
        headers=manager,
    )
    assert unknown.status_code == 422
    listed = await api.get("/lots", headers=provider)
    assert lot_number.upper() in [lot["lot_number"] for lot in listed.json()]
    products = {p["code"]: p for p in (await api.get("/products", headers=provider)).json()}
    assert products["pfizer"]["interval_days"] == 21 and products["janssen"]["doses"] == 1

    start = datetime.now(ZoneInfo("UTC")).replace(microsecond=0)
    backwards = await api.post(
        "/slots",
        json={
            "start_at": start.isoformat(),
            "end_at": start.isoformat(),
            "capacity": 2,
            "product_code": "pfizer",
        },
        headers=manager,
    )
    assert backwards.status_code == 422
    naive = await api.post(
        "/slots",
        json={
            "start_at": "2031-01-01T09:00:00",
            "end_at": "2031-01-01T10:00:00",
            "capacity": 2,
            "product_code": "pfizer",
        },
        headers=manager,
    )
    assert naive.status_code == 422
    no_seats = await api.post(
        "/slots",
        json={
            "start_at": "2031-01-01T09:00:00Z",
            "end_at": "2031-01-01T10:00:00Z",
            "capacity": 0,
            "product_code": "pfizer",
        },
        headers=manager,
    )
    assert no_seats.status_code == 422
