"""Waitlist, single-use links, eligibility and seat holds through the real API, workflows and mail."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import update

from api.app import create_app
from records.db import transaction, utcnow
from records.recipients import Recipient
from records.scheduling import Slot
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
    unique,
)
from worker.main import build_worker

OFFER = "A vaccination seat is free for you"
LAPSED = "has gone to the next person"


def _dates() -> dict[str, str]:
    today = date.today()
    return {
        "earliest_date": (today - timedelta(days=1)).isoformat(),
        "latest_date": (today + timedelta(days=3)).isoformat(),
    }


async def _join(api, headers, recipient_id: int, product: str) -> dict:
    response = await api.post(
        "/waitlist", json={"recipient_id": recipient_id, "product_code": product, **_dates()}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _entry(api, headers, entry_id: int) -> dict:
    response = await api.get(f"/waitlist/{entry_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _slot(api, headers, slot_id: int) -> dict:
    [slot] = [s for s in (await api.get("/slots", headers=headers)).json() if s["id"] == slot_id]
    return slot


async def test_a_cancelled_seat_goes_to_the_waitlist_expires_and_passes_to_the_next_person(
    api, smtp, sessions
):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    holder = await new_recipient(sessions)
    booked = await book(api, scheduler, holder.id, slot["id"])
    assert booked.status_code == 201, booked.text
    already = await new_recipient(sessions, first_name="Zed")
    first, second, third = [await new_recipient(sessions, first_name=n) for n in ("Ana", "Ben", "Cy")]
    entries = [await _join(api, scheduler, r.id, product) for r in (already, first, second, third)][1:]
    assert [e["status"] for e in entries] == ["waiting"] * 3
    # The first in line booked another seat meanwhile: they are passed over while that appointment stands.
    elsewhere = await publish_slot(api, manager, start_in=7200, capacity=1)
    assert (await book(api, scheduler, already.id, elsewhere["id"])).status_code == 201
    again = await api.post(
        "/waitlist", json={"recipient_id": first.id, "product_code": product, **_dates()}, headers=scheduler
    )
    assert again.status_code == 409 and again.json()["code"] == "already_waitlisted"

    cancelled = await api.post(
        f"/appointments/{booked.json()['id']}/cancel", json={"reason": "cannot come"}, headers=scheduler
    )
    assert cancelled.status_code == 200, cancelled.text

    # The freed seat is held for the first person and offered by email.
    offer_to_first = await mail(smtp, first.email, OFFER)
    first_token = link_token(offer_to_first, "waitlist-offers")
    seen = await api.get(f"/r/waitlist-offers/{first_token}")
    assert seen.status_code == 200 and seen.json()["status"] == "pending"
    assert seen.json()["slot"]["id"] == slot["id"]
    held = await _slot(api, manager, slot["id"])
    assert (held["booked"], held["held"], held["seats_left"]) == (0, 1, 0)
    someone_else = await book(api, scheduler, holder.id, slot["id"])
    assert someone_else.status_code == 409 and someone_else.json()["code"] == "slot_full"

    # Not taken in time: the first person is told, the seat passes to the second.
    await mail(smtp, first.email, LAPSED, timeout=40)
    offer_to_second = await mail(smtp, second.email, OFFER, timeout=40)
    assert (await _entry(api, scheduler, entries[0]["id"]))["status"] == "lapsed"
    late = await api.post(f"/r/waitlist-offers/{first_token}/accept")
    assert late.status_code == 410 and late.json()["code"] == "offer_expired"

    second_token = link_token(offer_to_second, "waitlist-offers")
    accepted = await api.post(f"/r/waitlist-offers/{second_token}/accept")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["recipient_id"] == second.id and accepted.json()["slot_id"] == slot["id"]
    reused = await api.post(f"/r/waitlist-offers/{second_token}/accept")
    assert reused.status_code == 409 and reused.json()["code"] == "link_used"
    taken = await _slot(api, manager, slot["id"])
    assert (taken["booked"], taken["held"]) == (1, 0)
    second_entry = await _entry(api, scheduler, entries[1]["id"])
    assert second_entry["status"] == "booked"
    assert second_entry["offers"][0]["appointment_id"] == accepted.json()["id"]
    await mail(smtp, second.email, "confirmed")

    # The accepted offer's time passing changes nothing; the third person was never offered a seat.
    async def settled():
        entry = await _entry(api, scheduler, entries[1]["id"])
        return entry["offers"][0]["status"] == "accepted"

    await eventually(settled, timeout=30, what="the accepted offer to stay accepted")
    assert (await _entry(api, scheduler, entries[2]["id"]))["status"] == "waiting"
    assert mails_to(smtp, third.email) == []
    assert [m for m in mails_to(smtp, already.email) if OFFER in str(m["Subject"])] == []
    assert len(mails_to(smtp, first.email)) == 2
    assert len([m for m in mails_to(smtp, second.email) if OFFER in str(m["Subject"])]) == 1
    assert not smtp.store.duplicates()


async def test_raising_capacity_offers_the_new_seat_to_the_waitlist(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    assert (await book(api, scheduler, (await new_recipient(sessions)).id, slot["id"])).status_code == 201
    waiting = await new_recipient(sessions, language="es")
    await _join(api, scheduler, waiting.id, product)
    too_low = await api.patch(f"/slots/{slot['id']}", json={"capacity": 0}, headers=manager)
    assert too_low.status_code == 422
    raised = await api.patch(f"/slots/{slot['id']}", json={"capacity": 2}, headers=manager)
    assert raised.status_code == 200 and raised.json()["capacity"] == 2
    offer = await mail(smtp, waiting.email, "Hay un lugar para vacunarse libre")
    accepted = await api.post(f"/r/waitlist-offers/{link_token(offer, 'waitlist-offers')}/accept")
    assert accepted.status_code == 201, accepted.text


async def test_a_booking_link_books_once_and_a_recipient_without_a_seat_joins_the_waitlist(
    api, smtp, sessions
):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    # A product of its own: the waitlist this test leaves behind offers no other test's seats.
    product = await new_product(sessions)
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=3, product=product)
    first = await book(api, scheduler, recipient.id, slot["id"])
    assert first.status_code == 201, first.text
    cancel = await api.post(
        f"/appointments/{first.json()['id']}/cancel", json={"reason": "x"}, headers=scheduler
    )
    assert cancel.status_code == 200, cancel.text
    token = link_token(await mail(smtp, recipient.email, "is cancelled"), "book")

    rebooked = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"]})
    assert rebooked.status_code == 201, rebooked.text
    cancel = await api.post(
        f"/appointments/{rebooked.json()['id']}/cancel", json={"reason": "again"}, headers=scheduler
    )
    assert cancel.status_code == 200, cancel.text
    reused = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"]})
    assert reused.status_code == 409 and reused.json()["code"] == "link_used"

    # The link still lets them wait for a seat (joining is not booking).
    wake = (await api.get("/location", headers=scheduler)).json()["id"]
    joined = await api.post(f"/r/book/{token}/waitlist", json={"location_id": wake, **_dates()})
    assert joined.status_code == 201, joined.text
    assert joined.json()["recipient_id"] == recipient.id and joined.json()["added_by"] == "recipient-link"


async def test_a_failed_booking_does_not_use_up_the_link(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    product = await new_product(sessions)
    question = unique("pregnant-")
    added = await api.post(
        "/eligibility/questions",
        json={"code": question, "prompt": "?", "product_code": product, "effect": "refuse", "reason": "no"},
        headers=await login(api, "agent"),  # the programme administrator
    )
    assert added.status_code == 201, added.text
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    first = await book(api, scheduler, recipient.id, slot["id"], screening={question: "no"})
    await api.post(f"/appointments/{first.json()['id']}/cancel", json={"reason": "x"}, headers=scheduler)
    token = link_token(await mail(smtp, recipient.email, "is cancelled"), "book")
    choices = await api.get(f"/r/book/{token}")
    assert choices.json()["screening_questions"] == [{"code": question, "prompt": "?", "prompt_es": None}]
    unanswered = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"]})
    assert unanswered.status_code == 422 and unanswered.json()["code"] == "screening_incomplete"
    refused = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"], "screening": {question: "yes"}})
    assert refused.status_code == 409 and refused.json()["code"] == "screening_refused"
    other_person = await book(
        api, scheduler, (await new_recipient(sessions)).id, slot["id"], screening={question: "no"}
    )
    assert other_person.status_code == 201, other_person.text
    full = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"], "screening": {question: "no"}})
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    other = await publish_slot(api, manager, start_in=7200, capacity=1, product=product)
    booked = await api.post(f"/r/book/{token}", json={"slot_id": other["id"], "screening": {question: "no"}})
    assert booked.status_code == 201, booked.text


async def test_eligibility_refuses_booking_and_documenting_with_the_reason(api, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    provider = await login(api, "provider")
    product = await new_product(sessions)
    lot = await add_lot(sessions, product)
    slot = await publish_slot(api, manager, start_in=3600, capacity=5, product=product)

    admin = await login(api, "agent")  # the programme administrator
    set_age = await api.put(f"/eligibility/{product}/minimum-age", json={"years": 16}, headers=admin)
    assert set_age.status_code == 200 and set_age.json()["minimum_age_years"] == 16
    for not_admin in (scheduler, manager):
        refused = await api.put(f"/eligibility/{product}/minimum-age", json={"years": 16}, headers=not_admin)
        assert refused.status_code == 403
    child = await new_recipient(sessions)
    async with transaction(sessions) as db:
        await db.execute(
            update(Recipient)
            .where(Recipient.id == child.id)
            .values(date_of_birth=date.today() - timedelta(days=365 * 10))
        )
    young = await book(api, scheduler, child.id, slot["id"])
    assert young.status_code == 409 and young.json()["code"] == "too_young"
    assert "aged 16 and over" in young.json()["detail"] and young.json()["age"] in (9, 10)
    young_dose = await document(api, provider, child.id, product=product, lot=lot)
    assert young_dose.status_code == 409 and young_dose.json()["code"] == "too_young"

    defer, refuse = unique("fever-"), unique("allergy-")
    for code, effect, reason in (
        (defer, {"effect": "defer", "defer_days": 14}, "wait until the fever is gone"),
        (refuse, {"effect": "refuse"}, "severe allergic reaction to a component"),
    ):
        added = await api.post(
            "/eligibility/questions",
            json={"code": code, "prompt": f"{code}?", "product_code": product, "reason": reason, **effect},
            headers=admin,
        )
        assert added.status_code == 201, added.text
    rules = (await api.get(f"/eligibility/{product}", headers=provider)).json()
    assert [q["code"] for q in rules["questions"] if q["code"] in (defer, refuse)] == [defer, refuse]

    adult = await new_recipient(sessions)
    incomplete = await book(api, scheduler, adult.id, slot["id"], screening={defer: "no"})
    assert incomplete.status_code == 422 and incomplete.json()["missing"] == [refuse]
    deferred = await book(api, scheduler, adult.id, slot["id"], screening={defer: "Yes", refuse: "no"})
    assert deferred.status_code == 409 and deferred.json()["code"] == "screening_deferred"
    assert "wait until the fever is gone" in deferred.json()["detail"] and deferred.json()["until"]
    refused = await document(
        api, provider, adult.id, product=product, lot=lot, screening={defer: "no", refuse: "yes"}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "screening_refused"
    assert "severe allergic reaction" in refused.json()["detail"]
    async with transaction(sessions) as db:
        assert (await db.get(Slot, slot["id"])).booked == 0
    fine = await book(api, scheduler, adult.id, slot["id"], screening={defer: "no", refuse: "no"})
    assert fine.status_code == 201, fine.text


async def test_a_held_seat_counts_against_capacity_and_is_released_when_its_time_is_up(api, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    slot = await publish_slot(api, manager, start_in=3600, capacity=1)
    hold = await api.post(f"/slots/{slot['id']}/holds", headers=scheduler)
    assert hold.status_code == 201, hold.text
    assert (await _slot(api, manager, slot["id"]))["seats_left"] == 0
    second = await api.post(f"/slots/{slot['id']}/holds", headers=scheduler)
    assert second.status_code == 409 and second.json()["code"] == "slot_full"
    walk_up = await book(api, scheduler, (await new_recipient(sessions)).id, slot["id"])
    assert walk_up.status_code == 409 and walk_up.json()["code"] == "slot_full"

    async def released():
        return (await api.get(f"/holds/{hold.json()['id']}", headers=scheduler)).json()[
            "status"
        ] == "released"

    await eventually(released, timeout=30, what="the hold to be released by its timer")
    freed = await _slot(api, manager, slot["id"])
    assert (freed["held"], freed["seats_left"]) == (0, 1)

    # A hold given back by hand is released by its workflow at once.
    early = await api.post(f"/slots/{slot['id']}/holds", headers=scheduler)
    assert early.status_code == 201, early.text
    assert (await api.post(f"/holds/{early.json()['id']}/release", headers=scheduler)).status_code == 202

    async def given_back():
        return (await api.get(f"/holds/{early.json()['id']}", headers=scheduler)).json()[
            "status"
        ] == "released"

    await eventually(given_back, timeout=30, what="the hold to be released on request")

    # A hold taken by the booking it was made for.
    again = await api.post(f"/slots/{slot['id']}/holds", headers=scheduler)
    assert again.status_code == 201, again.text
    registered = await book(
        api, scheduler, (await new_recipient(sessions)).id, slot["id"], hold_id=again.json()["id"]
    )
    assert registered.status_code == 201, registered.text
    assert (await api.get(f"/holds/{again.json()['id']}", headers=scheduler)).json()["status"] == "booked"
    taken = await _slot(api, manager, slot["id"])
    assert (taken["booked"], taken["held"]) == (1, 0)


async def test_an_offer_running_out_while_the_worker_is_down_passes_on_once_it_is_back(
    temporal, settings, sessions, smtp
):
    # Its own task queue, API and workers, so stopping this worker leaves the session's alone.
    own = settings.model_copy(update={"temporal_task_queue": f"waitlist-restart-{uuid.uuid4().hex[:8]}"})
    app = create_app(own, temporal)
    product = await new_product(sessions)
    first, second = (
        await new_recipient(sessions, first_name="Dee"),
        await new_recipient(sessions, first_name="Eli"),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cvms.test") as api:
        manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
        async with build_worker(temporal, own):
            slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
            booked = await book(api, scheduler, (await new_recipient(sessions)).id, slot["id"])
            assert booked.status_code == 201, booked.text
            for recipient in (first, second):
                await _join(api, scheduler, recipient.id, product)
            cancelled = await api.post(
                f"/appointments/{booked.json()['id']}/cancel", json={"reason": "x"}, headers=scheduler
            )
            assert cancelled.status_code == 200, cancelled.text
            offer = await mail(smtp, first.email, OFFER)
            expires_at = (await api.get(f"/r/waitlist-offers/{link_token(offer, 'waitlist-offers')}")).json()[
                "expires_at"
            ]
        # The worker is gone; the offer runs out with nobody to act on it.
        deadline = datetime.fromisoformat(expires_at) + timedelta(seconds=1)

        async def past_expiry() -> bool:
            return utcnow() > deadline

        await eventually(past_expiry, timeout=30, what="the offer to run out while the worker is down")
        assert mails_to(smtp, second.email) == []

        async with build_worker(temporal, own):  # a fresh worker replays the waitlist and carries on
            await mail(smtp, first.email, LAPSED, timeout=40)
            await mail(smtp, second.email, OFFER, timeout=40)
    assert len(mails_to(smtp, first.email)) == 2 and len(mails_to(smtp, second.email)) == 1
    assert not smtp.store.duplicates()


async def test_a_rescheduled_appointment_frees_its_seat_for_the_waitlist(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    product = await new_product(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    booked = await book(api, scheduler, (await new_recipient(sessions)).id, slot["id"])
    assert booked.status_code == 201, booked.text
    waiting = await new_recipient(sessions)
    entry = await _join(api, scheduler, waiting.id, product)
    # Beyond the dates the waiting person asked for, so its seats are not offered to them.
    later = await publish_slot(api, manager, start_in=10 * 86400, capacity=1, product=product)
    moved = await api.post(
        f"/appointments/{booked.json()['id']}/reschedule", json={"slot_id": later["id"]}, headers=scheduler
    )
    assert moved.status_code == 200, moved.text
    await mail(smtp, waiting.email, OFFER)
    [offer] = (await _entry(api, scheduler, entry["id"]))["offers"]
    assert offer["slot_id"] == slot["id"] and offer["status"] == "pending"


async def test_a_newly_published_slot_goes_to_the_waitlist_first(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    product = await new_product(sessions)
    waiting = await new_recipient(sessions)
    entry = await _join(api, scheduler, waiting.id, product)
    slot = await publish_slot(api, manager, start_in=3600, capacity=2, product=product)
    await mail(smtp, waiting.email, OFFER)
    [offer] = (await _entry(api, scheduler, entry["id"]))["offers"]
    assert offer["slot_id"] == slot["id"]
    assert (await _slot(api, manager, slot["id"]))["seats_left"] == 1


async def test_a_booking_link_holds_one_seat_at_a_time_and_its_booking_takes_it(api, smtp, sessions):
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    product = await new_product(sessions)
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600, capacity=1, product=product)
    other = await publish_slot(api, manager, start_in=7200, capacity=1, product=product)
    first = await book(api, scheduler, recipient.id, slot["id"])
    assert first.status_code == 201, first.text
    cancel = await api.post(
        f"/appointments/{first.json()['id']}/cancel", json={"reason": "x"}, headers=scheduler
    )
    assert cancel.status_code == 200, cancel.text
    token = link_token(await mail(smtp, recipient.email, "is cancelled"), "book")

    held = await api.post(f"/r/book/{token}/holds", json={"slot_id": slot["id"]})
    assert held.status_code == 201, held.text
    again = await api.post(f"/r/book/{token}/holds", json={"slot_id": slot["id"]})
    assert again.json()["id"] == held.json()["id"]  # the same choice again holds nothing more
    assert (await _slot(api, manager, slot["id"]))["held"] == 1
    walk_up = await book(api, scheduler, (await new_recipient(sessions)).id, slot["id"])
    assert walk_up.status_code == 409 and walk_up.json()["code"] == "slot_full"
    seen = await api.get(f"/r/book/{token}/holds/{held.json()['id']}")
    assert seen.status_code == 200 and seen.json()["slot"]["id"] == slot["id"]

    # Choosing another time gives the first seat back.
    moved = await api.post(f"/r/book/{token}/holds", json={"slot_id": other["id"]})
    assert moved.status_code == 201 and moved.json()["id"] != held.json()["id"]

    async def given_back():
        return (await _slot(api, manager, slot["id"]))["held"] == 0

    await eventually(given_back, timeout=30, what="the first held seat to be given back")
    wrong_slot = await api.post(
        f"/r/book/{token}", json={"slot_id": slot["id"], "hold_id": moved.json()["id"]}
    )
    assert wrong_slot.status_code == 404
    booked = await api.post(f"/r/book/{token}", json={"slot_id": other["id"], "hold_id": moved.json()["id"]})
    assert booked.status_code == 201, booked.text
    taken = await _slot(api, manager, other["id"])
    assert (taken["booked"], taken["held"]) == (1, 0)
    spent = await api.post(f"/r/book/{token}/holds", json={"slot_id": slot["id"]})
    assert spent.status_code == 409 and spent.json()["code"] == "link_used"
