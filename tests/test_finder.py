"""The public "find a vaccine location": published locations only, with their true free seats."""

from __future__ import annotations

from datetime import timedelta

from records.db import transaction, utcnow
from records.scheduling import Slot
from tests.inventory import headers_for, new_site, receive_lot
from tests.journeys import book, new_product, new_recipients, publish_slot

HOURS = [
    {"weekday": 0, "opens": "08:00", "closes": "17:00"},
    {"weekday": 5, "opens": "09:00", "closes": "13:00"},
]


def find(locations: list[dict], code: str) -> dict | None:
    return next((loc for loc in locations if loc["code"] == code), None)


async def test_finder_lists_published_locations_with_stock_hours_and_true_free_seats(api, sessions):
    shown, hidden = await new_site(sessions), await new_site(sessions)
    manager = await headers_for(api, shown.manager)
    hidden_manager = await headers_for(api, hidden.manager)
    stocked, gone = await new_product(sessions), await new_product(sessions)
    await receive_lot(api, manager, stocked, 5)
    emptied = await receive_lot(api, manager, gone, 1)
    await api.post(f"/lots/{emptied['id']}/waste", json={"doses": 1, "reason": "expired"}, headers=manager)
    await receive_lot(api, hidden_manager, stocked, 5)
    await publish_slot(api, hidden_manager, start_in=7200, capacity=4, product=stocked)

    published = await api.patch(
        "/location/listing",
        json={"published": True, "walk_ins": False, "opening_hours": HOURS},
        headers=manager,
    )
    assert published.status_code == 200 and published.json()["published"], published.text
    readonly = await api.patch(
        "/location/listing", json={"published": True}, headers=await headers_for(api, shown.provider)
    )
    assert readonly.status_code == 403

    # Seats: 3 free of 4 after a booking; a full, a closed and a finished slot offer none.
    open_slot = await publish_slot(api, manager, start_in=7200, capacity=4, product=stocked)
    full = await publish_slot(api, manager, start_in=7200, capacity=1, product=stocked)
    closed = await publish_slot(api, manager, start_in=7200, capacity=6, product=stocked)
    first, second = await new_recipients(sessions, 2)
    assert (await book(api, manager, first, open_slot["id"])).status_code == 201
    assert (await book(api, manager, second, full["id"])).status_code == 201
    assert (await api.post(f"/slots/{closed['id']}/close", json={}, headers=manager)).status_code == 200
    async with transaction(sessions) as db:
        over = utcnow() - timedelta(hours=2)
        db.add(
            Slot(
                location_id=shown.id,
                start_at=over,
                end_at=over + timedelta(minutes=30),
                capacity=9,
                booked=0,
                product_code=stocked,
            )
        )

    listed = (await api.get("/public/locations")).json()
    assert find(listed, hidden.code) is None
    location = find(listed, shown.code)
    assert location is not None
    assert location["address"].endswith("Durham, NC 27701") and location["phone"]
    assert location["appointments"] is True and location["walk_ins"] is False
    assert [p["code"] for p in location["products"]] == [stocked]
    assert [(h["day"], h["opens"], h["closes"]) for h in location["hours"]] == [
        ("Monday", "08:00", "17:00"),
        ("Saturday", "09:00", "13:00"),
    ]
    assert sum(day["free_seats"] for day in location["free_days"]) == 3

    # Filtering by product, and the same listing in Spanish.
    assert find((await api.get(f"/public/locations?product={gone}")).json(), shown.code) is None
    assert find((await api.get(f"/public/locations?product={stocked}")).json(), shown.code) is not None
    spanish = (await api.get(f"/public/locations/{shown.code}?lang=es")).json()
    assert [h["day"] for h in spanish["hours"]] == ["lunes", "sábado"]
    assert spanish["free_days"][0]["label"] != location["free_days"][0]["label"]
    assert (await api.get(f"/public/locations/{hidden.code}")).status_code == 404

    # Unpublishing removes it at once.
    await api.patch("/location/listing", json={"published": False}, headers=manager)
    assert find((await api.get("/public/locations")).json(), shown.code) is None
    assert (await api.get(f"/public/locations/{shown.code}")).status_code == 404
