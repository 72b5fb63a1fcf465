"""The finder's free-seat summary moves with every booking, cancellation, hold and slot change, in
the same transaction, so it always equals what the slots themselves say."""

from __future__ import annotations

from sqlalchemy import func, select

from records.db import transaction
from records.free_seats import FreeSeatDay
from records.scheduling import Slot
from tests.conftest import eventually
from tests.inventory import headers_for, new_site
from tests.journeys import book, new_product, new_recipients, publish_slot

TWO_DAYS = 2 * 86400


async def summary_and_truth(sessions, location_id: int) -> tuple[int, int]:
    async with transaction(sessions) as db:
        summary = await db.scalar(
            select(func.coalesce(func.sum(FreeSeatDay.free_seats), 0)).where(
                FreeSeatDay.location_id == location_id
            )
        )
        truth = await db.scalar(
            select(func.coalesce(func.sum(Slot.capacity - Slot.booked - Slot.held), 0)).where(
                Slot.location_id == location_id, Slot.is_open.is_(True)
            )
        )
    return int(summary), int(truth)


async def test_the_summary_follows_bookings_cancellations_holds_and_slot_changes(api, sessions):
    site = await new_site(sessions, published=True)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    first = await publish_slot(api, manager, start_in=TWO_DAYS, length=900, capacity=4, product=product)
    second = await publish_slot(
        api, manager, start_in=TWO_DAYS + 3600, length=900, capacity=3, product=product
    )
    assert await summary_and_truth(sessions, site.id) == (7, 7)

    people = await new_recipients(sessions, 3)
    booked = [await book(api, manager, person, first["id"]) for person in people[:2]]
    assert all(b.status_code == 201 for b in booked), [b.text for b in booked]
    assert await summary_and_truth(sessions, site.id) == (5, 5)

    cancelled = await api.post(
        f"/appointments/{booked[0].json()['id']}/cancel", json={"reason": "plans changed"}, headers=manager
    )
    assert cancelled.status_code == 200, cancelled.text
    assert await summary_and_truth(sessions, site.id) == (6, 6)

    hold = await api.post(f"/slots/{second['id']}/holds", json={}, headers=manager)
    assert hold.status_code == 201, hold.text
    assert await summary_and_truth(sessions, site.id) == (5, 5)
    released = await api.post(f"/holds/{hold.json()['id']}/release", json={}, headers=manager)
    assert released.status_code == 202

    async def given_back() -> bool:
        return await summary_and_truth(sessions, site.id) == (6, 6)

    await eventually(given_back, what="the held seat given back")

    assert (
        await api.patch(f"/slots/{second['id']}", json={"capacity": 5}, headers=manager)
    ).status_code == 200
    assert await summary_and_truth(sessions, site.id) == (8, 8)
    assert (await api.post(f"/slots/{first['id']}/close", json={}, headers=manager)).status_code == 200
    assert await summary_and_truth(sessions, site.id) == (5, 5)

    # The finder reads the summary: the day shows the same free seats.
    listed = (await api.get(f"/public/locations/{site.code}")).json()
    assert sum(day["free_seats"] for day in listed["free_days"]) == 5
