"""The location manager's dashboard and the programme (equity) report over a large database.

    python -m bench.dashboard [--recipients 100000] [--doses 200000] [--renders 20]

Bulk-inserts recipients (ZIP codes, counties, race, ethnicity, sex, birth dates), one series and
its doses each (spread over 26 weeks and 10 locations, the busiest being the demo's WAKE-01),
slots, past appointments with outcomes, lots and a waitlist; then times, over real HTTP:
the dashboard page (4 charts), the equity report page by each dimension for the location's
manager and for the programme administrator across every location. Each render is timed
"cold" (the SVG cache emptied first: every chart drawn again) and "warm" (the same numbers, so
the charts come from the cache); the queries alone are timed too. Target: < 300 ms a render.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import zipcodes
from sqlalchemy import insert, select

from api.app import create_app
from bench.common import print_table, serve_in_thread, summary
from domain.payload_keys import new_key_spec
from domain.places import county_of_zip
from domain.reporting import DIMENSIONS
from domain.settings import Settings
from records.db import make_engine, make_sessionmaker, utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.migrate import upgrade
from records.products import InventoryLot
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry
from services import charts
from services.dashboard import equity_report, location_dashboard
from worker.devserver import free_port
from worker.seed import DEMO_AGENT, DEMO_PASSWORD, seed

RACES = ["white", "black_or_african_american", "asian", "american_indian_or_alaska_native", "other", None]
ETHNICITIES = ["hispanic_or_latino", "not_hispanic_or_latino", None]
PRODUCTS = ["pfizer", "moderna", "janssen"]
BATCH = 5000


async def _insert(conn: Any, model: Any, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        await conn.execute(insert(model), rows[start : start + BATCH])


async def load(settings: Settings, recipients: int, doses: int, rng: random.Random) -> int:
    """Fills the database; returns the id of WAKE-01 (the dashboard's location)."""
    engine = make_engine(settings.database_url)
    await seed(make_sessionmaker(engine))
    now = utcnow()
    nc_zips = [z["zip_code"] for z in zipcodes.filter_by(state="NC")][:300]
    async with engine.begin() as conn:
        await _insert(
            conn,
            Location,
            [
                dict(
                    code=f"BENCH-{i:02d}",
                    name=f"Bench Clinic {i}",
                    time_zone="America/New_York",
                    scheduling_enabled=True,
                    provider_pin=f"PIN-B{i}",
                    created_at=now,
                )
                for i in range(8)
            ],
        )
        location_ids = list((await conn.execute(select(Location.id).order_by(Location.id))).scalars())
        wake = (await conn.execute(select(Location.id).where(Location.code == "WAKE-01"))).scalar_one()
        # The busiest location gives 30 % of the doses, the others share the rest.
        weights = [30 if loc == wake else 70 / (len(location_ids) - 1) for loc in location_ids]

        people = []
        for i in range(recipients):
            zip_code = rng.choice(nc_zips)
            people.append(
                dict(
                    first_name="Bench",
                    middle_name="",
                    last_name=f"Person{i}",
                    first_key="bench",
                    last_key=f"person{i}",
                    phone_key="",
                    email_key="",
                    phone="",
                    email="",
                    date_of_birth=date(1935, 1, 1) + timedelta(days=rng.randrange(30000)),
                    sex=rng.choice(["female", "male", "unknown"]),
                    address_line="",
                    city="",
                    state="NC",
                    postal_code=zip_code,
                    county=county_of_zip(zip_code),
                    preferred_language="en",
                    race=rng.choice(RACES),
                    ethnicity=rng.choice(ETHNICITIES),
                    created_at=now,
                    updated_at=now,
                )
            )
        await _insert(conn, Recipient, people)
        ids = list((await conn.execute(select(Recipient.id).where(Recipient.first_key == "bench"))).scalars())

        journeys, dose_rows = [], []
        per_person = max(1, doses // len(ids))
        for n, rid in enumerate(ids):
            jid = f"journey-bench-{rid}"
            product = PRODUCTS[n % len(PRODUCTS)]
            journeys.append(
                dict(
                    id=jid,
                    recipient_id=rid,
                    series_no=1,
                    product_code=product,
                    product_version=1,
                    status="active",
                    created_at=now,
                )
            )
            first_at = now - timedelta(seconds=rng.randrange(26 * 7 * 86400))
            location = rng.choices(location_ids, weights)[0]
            for d in range(per_person):
                dose_rows.append(
                    dict(
                        journey_id=jid,
                        recipient_id=rid,
                        location_id=location,
                        dose_number=d + 1,
                        product_code=product,
                        product_version=1,
                        lot_number="BENCH-LOT",
                        expires_on=date(2030, 1, 1),
                        injection_site="left_deltoid",
                        route="intramuscular",
                        administered_by="Bench",
                        given_at=min(first_at + timedelta(days=21 * d), now),
                        documented_by="bench",
                        idempotency_key=f"d{d}",
                        removed=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
        await _insert(conn, Journey, journeys)
        await _insert(conn, Dose, dose_rows)

        # WAKE-01: slots for 8 weeks back and 14 days ahead, appointments in them with outcomes.
        slots = []
        for day in range(-56, 14):
            for hour in range(8):
                start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=day, hours=hour - 4)
                slots.append(
                    dict(
                        location_id=wake,
                        start_at=start,
                        end_at=start + timedelta(minutes=30),
                        capacity=20,
                        booked=0,
                        held=0,
                        product_code=rng.choice(PRODUCTS),
                        is_open=True,
                        created_at=now,
                    )
                )
        await _insert(conn, Slot, slots)
        slot_rows = (
            await conn.execute(
                select(Slot.id, Slot.start_at, Slot.product_code).where(Slot.location_id == wake)
            )
        ).all()
        appointments, booked = [], {}
        for n in range(20_000):
            slot_id, start, product = rng.choice(slot_rows)
            if booked.get(slot_id, 0) >= 20:
                continue
            booked[slot_id] = booked.get(slot_id, 0) + 1
            past = start < now
            status = rng.choices(["completed", "missed", "cancelled"], [80, 12, 8])[0] if past else "booked"
            appointments.append(
                dict(
                    journey_id=f"journey-bench-appt-{n}",
                    recipient_id=ids[n % len(ids)],
                    location_id=wake,
                    slot_id=slot_id,
                    start_at=start,
                    end_at=start + timedelta(minutes=30),
                    product_code=product,
                    dose_number=1,
                    status=status,
                    idempotency_key=f"a{n}",
                    booked_by="bench",
                    invite_sequence=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        await _insert(conn, Appointment, appointments)
        for slot_id, count in booked.items():
            await conn.execute(Slot.__table__.update().where(Slot.id == slot_id).values(booked=count))
        await _insert(
            conn,
            InventoryLot,
            [
                dict(
                    location_id=wake,
                    product_code=p,
                    lot_number=f"BENCH-{p}-{k}",
                    on_hand=rng.randrange(50, 500),
                    expires_on=(now + timedelta(days=rng.randrange(5, 120))).date(),
                    created_at=now,
                )
                for p in PRODUCTS
                for k in range(4)
            ],
        )
        await _insert(
            conn,
            WaitlistEntry,
            [
                dict(
                    location_id=wake,
                    recipient_id=ids[-1 - k],
                    product_code=rng.choice(PRODUCTS),
                    earliest_date=now.date(),
                    latest_date=now.date() + timedelta(days=30),
                    status="waiting",
                    added_by="bench",
                    created_at=now,
                    updated_at=now,
                )
                for k in range(400)
            ],
        )
    await engine.dispose()
    return wake


async def wake_id(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        found = (await conn.execute(select(Location.id).where(Location.code == "WAKE-01"))).scalar_one()
    await engine.dispose()
    return int(found)


async def time_queries(settings: Settings, location_id: int, repeats: int) -> dict[str, list[float]]:
    """The services alone (every query of a page, no HTML, no chart)."""
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    out: dict[str, list[float]] = {
        "dashboard queries": [],
        "equity queries (one location)": [],
        "equity queries (all locations)": [],
    }
    async with sessions() as db:
        location = await db.get(Location, location_id)
        assert location is not None
        for i in range(repeats):
            started = time.perf_counter()
            await location_dashboard(db, location)
            out["dashboard queries"].append(time.perf_counter() - started)
            for key, scope in (
                ("equity queries (one location)", location_id),
                ("equity queries (all locations)", None),
            ):
                started = time.perf_counter()
                await equity_report(
                    db,
                    dimension=DIMENSIONS[i % len(DIMENSIONS)],
                    weeks=12,
                    time_zone="America/New_York",
                    location_id=scope,
                )
                out[key].append(time.perf_counter() - started)
    await engine.dispose()
    return out


async def time_pages(base_url: str, renders: int) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def headers_of(login_name: str) -> dict[str, str]:
            got = await client.post("/auth/login", json={"login_name": login_name, "password": DEMO_PASSWORD})
            return {"Authorization": f"Bearer {got.json()['token']}", "Accept": "text/html"}

        manager, admin = await headers_of("manager"), await headers_of(DEMO_AGENT[0])
        pages = [("dashboard", "/portal/dashboard", manager)]
        pages += [
            (f"equity by {d} (WAKE-01)", f"/portal/reports/equity?by={d}&weeks=12", manager)
            for d in DIMENSIONS
        ]
        pages += [
            (f"equity by {d} (all)", f"/portal/reports/equity?by={d}&weeks=12", admin) for d in DIMENSIONS
        ]
        out: dict[str, list[float]] = {}
        for name, address, headers in pages:
            for temperature in ("cold", "warm"):
                samples = out.setdefault(f"{name} {temperature}", [])
                for _ in range(renders):
                    if temperature == "cold":
                        charts.render_svg.cache_clear()
                    started = time.perf_counter()
                    response = await client.get(address, headers=headers)
                    samples.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text[:500]
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--doses", type=int, default=200_000)
    parser.add_argument("--renders", type=int, default=10)
    parser.add_argument(
        "--keep", type=Path, help="keep the database in this file (and reuse it if it is there)"
    )
    args = parser.parse_args()
    rng = random.Random(18)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.db"
        reuse = path.exists()
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{path}",
            secret_key="bench-secret-0123456789abcdef-0123456789",
            payload_keys=new_key_spec("bench"),
        )
        upgrade(settings.database_url)
        started = time.perf_counter()
        wake = asyncio.run(wake_id(settings) if reuse else load(settings, args.recipients, args.doses, rng))
        loaded = time.perf_counter() - started
        queries = asyncio.run(time_queries(settings, wake, args.renders))
        app = create_app(settings)
        with serve_in_thread(app, free_port()) as base_url:
            pages = asyncio.run(time_pages(base_url, args.renders))
    rows: list[tuple[str, object]] = [
        ("recipients", args.recipients),
        ("doses", args.doses),
        ("load seconds", loaded),
    ]
    worst = 0.0
    for name, samples in [*queries.items(), *pages.items()]:
        stats = summary(samples)
        rows.append((f"{name} p50 / p99 ms", f"{stats['p50_ms']:.0f} / {stats['p99_ms']:.0f}"))
        if name.startswith(("dashboard ", "equity by")):
            worst = max(worst, stats["p50_ms"])
    rows.append(("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"))
    rows.append(
        ("target p50 < 300 ms a render", "met" if worst < 300 else f"MISSED (worst p50 {worst:.0f} ms)")
    )
    print_table("bench/dashboard: dashboard and equity report over real HTTP (SQLite)", rows)


if __name__ == "__main__":
    main()
