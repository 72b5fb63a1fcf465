"""Known events at a location of the test's own, for the dashboard and programme report tests:
doses on known local days, slots, past appointments with their outcomes, lots and a waitlist.
The numbers each chart must show are spelled out in `Expected`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.reporting import week_start
from records.db import transaction, utcnow
from records.inventory import EventKind, record_event
from records.journeys import Dose, Journey
from records.products import InventoryLot
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry
from tests.inventory import Site, new_site
from tests.journeys import new_product

ZONE = "America/New_York"


def local_noon(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(ZONE)).astimezone(UTC)


@dataclass(frozen=True)
class Expected:
    site: Site
    first: str  # product codes
    second: str
    today: date
    yesterday: date  # 3 of `first`, 4 of `second` (and one removed dose that does not count)
    ten_days_ago: date  # 2 of `first`
    tomorrow: date  # capacity 10: 3 booked, 1 held, 6 free
    in_three_days: date  # capacity 5, all 5 booked
    last_week: date  # Monday: 3 appointments due (1 cancelled left out), 1 missed: 33.3 %
    tomorrow_slot: int


async def build(sessions: Any) -> Expected:
    site = await new_site(sessions)
    first, second = await new_product(sessions), await new_product(sessions)
    today = utcnow().astimezone(ZoneInfo(ZONE)).date()
    yesterday, ten_days_ago = today - timedelta(days=1), today - timedelta(days=10)
    tomorrow, in_three_days = today + timedelta(days=1), today + timedelta(days=3)
    last_week = week_start(today) - timedelta(days=7)
    tag = uuid.uuid4().hex[:8]
    async with transaction(sessions) as db:
        # Nine recipients: race white x3, black x4, not given x2; Durham County x5, Orange County x4;
        # aged 30 (x5) and 70 (x4) when vaccinated.
        people = []
        for i in range(9):
            person = Recipient(
                first_name="Chart",
                last_name=f"Reader{tag}{i}",
                date_of_birth=date(today.year - (30 if i < 5 else 70), 1, 1)
                - timedelta(days=400 if i < 5 else 0),
                sex="female" if i % 2 else "male",
                postal_code="27701" if i < 5 else "27514",
                race="white" if i < 3 else "black_or_african_american" if i < 7 else None,
                ethnicity="not_hispanic_or_latino" if i < 6 else "hispanic_or_latino",
            )
            person.refresh_search_keys()
            people.append(person)
        db.add_all(people)
        await db.flush()

        def dose(person: Recipient, product: str, day: date, n: int, removed: bool = False) -> Dose:
            journey = Journey(
                id=f"journey-dash-{tag}-{person.id}-{n}", recipient_id=person.id, series_no=n + 1
            )
            db.add(journey)
            return Dose(
                journey_id=journey.id,
                recipient_id=person.id,
                location_id=site.id,
                dose_number=1,
                product_code=product,
                product_version=1,
                lot_number="LOT-DASH",
                expires_on=today + timedelta(days=300),
                injection_site="left_deltoid",
                route="intramuscular",
                administered_by="Nurse Chart",
                given_at=local_noon(day),
                documented_by="test",
                idempotency_key=f"dose-{n}",
                removed=removed,
            )

        doses = [dose(people[i], first, yesterday, 0) for i in range(3)]  # white x3
        doses += [dose(people[3 + i], second, yesterday, 0) for i in range(4)]  # black x4
        doses += [dose(people[7 + i], first, ten_days_ago, 0) for i in range(2)]  # not given x2
        doses.append(dose(people[0], first, yesterday, 1, removed=True))
        await db.flush()
        db.add_all(doses)

        tomorrow_slot = Slot(
            location_id=site.id,
            start_at=local_noon(tomorrow, 10),
            end_at=local_noon(tomorrow, 11),
            capacity=10,
            booked=3,
            held=1,
            product_code=first,
        )
        later_slot = Slot(
            location_id=site.id,
            start_at=local_noon(in_three_days, 9),
            end_at=local_noon(in_three_days, 10),
            capacity=5,
            booked=5,
            product_code=second,
        )
        past_slot = Slot(
            location_id=site.id,
            start_at=local_noon(last_week + timedelta(days=2)),
            end_at=local_noon(last_week + timedelta(days=2), 13),
            capacity=4,
            booked=3,
            product_code=first,
        )
        db.add_all([tomorrow_slot, later_slot, past_slot])
        await db.flush()

        def appointment(slot: Slot, person: Recipient, status: str, key: str) -> Appointment:
            return Appointment(
                journey_id=f"journey-dash-{tag}-{key}",
                recipient_id=person.id,
                location_id=site.id,
                slot_id=slot.id,
                start_at=slot.start_at,
                end_at=slot.end_at,
                product_code=slot.product_code,
                dose_number=1,
                status=status,
                idempotency_key=key,
                booked_by="test",
            )

        appointments = [appointment(tomorrow_slot, people[i], "booked", f"t{i}") for i in range(3)]
        appointments += [appointment(later_slot, people[i], "booked", f"l{i}") for i in range(5)]
        outcomes = ["missed", "completed", "completed", "cancelled"]
        appointments += [appointment(past_slot, people[i], s, f"p{i}") for i, s in enumerate(outcomes)]
        db.add_all(appointments)

        # Lots of `first`: 10 expiring in 20 days, 5 in 200 days, 7 already expired (not counted).
        for number, expires, doses_in in (("A", 20, 10), ("B", 200, 5), ("C", -1, 7)):
            lot = InventoryLot(
                location_id=site.id,
                product_code=first,
                lot_number=f"DASH-{number}-{tag}",
                expires_on=today + timedelta(days=expires),
            )
            db.add(lot)
            await db.flush()
            await record_event(db, lot, EventKind.received, doses_in, actor="test")

        for i, status in enumerate(("waiting", "offered", "removed")):
            db.add(
                WaitlistEntry(
                    location_id=site.id,
                    recipient_id=people[i].id,
                    product_code=first,
                    earliest_date=today,
                    latest_date=today + timedelta(days=30),
                    status=status,
                    added_by="test",
                )
            )
    return Expected(
        site,
        first,
        second,
        today,
        yesterday,
        ten_days_ago,
        tomorrow,
        in_three_days,
        last_week,
        tomorrow_slot.id,
    )
