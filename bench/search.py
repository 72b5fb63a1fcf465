"""Recipient search through the real HTTP API over a large SQLite database.

    python -m bench.search [--recipients 100000] [--searches 2000]

Prints p50/p99 latency of name + date-of-birth, phone and email searches.
Target: p99 <= 50 ms with 100,000 recipients.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from api.app import create_app
from bench.common import print_table, serve_in_thread, summary
from domain.payload_keys import new_key_spec
from domain.settings import Settings
from records.db import make_engine
from records.migrate import upgrade
from records.recipients import Recipient, fold, phone_digits
from worker.devserver import free_port
from worker.seed import DEMO_PASSWORD, seed

FIRST = (
    "Ana Ángel Bea Carlos Chloe Daniel Élodie Fatima George Hana Ivan José Kenji Lucía Mei Nadia Omar".split()
)
LAST = "García Smith Núñez Johnson Peña Williams Brown Jones Müller Rodríguez Nguyen Kim Patel Davis".split()


def fake_recipients(count: int, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(count):
        first = rng.choice(FIRST)
        last = f"{rng.choice(LAST)}{i % 997}"
        phone = f"919{rng.randrange(10**7):07d}"
        email = f"person{i}@example.org"
        rows.append(
            dict(
                first_name=first,
                last_name=last,
                middle_name="",
                date_of_birth=date(1940, 1, 1) + timedelta(days=rng.randrange(30000)),
                sex=rng.choice(["female", "male"]),
                address_line="",
                city="",
                state="NC",
                postal_code="",
                phone=phone,
                email=email,
                preferred_language=rng.choice(["en", "es"]),
                first_key=fold(first),
                last_key=fold(last),
                phone_key=phone_digits(phone),
                email_key=email,
            )
        )
    return rows


async def load(settings: Settings, count: int, rng: random.Random) -> list[dict]:
    from records.db import make_sessionmaker

    engine = make_engine(settings.database_url)
    await seed(make_sessionmaker(engine))
    rows = fake_recipients(count, rng)
    from records.db import utcnow

    now = utcnow()
    async with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            batch = [dict(r, created_at=now, updated_at=now) for r in rows[start : start + 5000]]
            await conn.execute(insert(Recipient), batch)
    await engine.dispose()
    return rows


async def measure(
    base_url: str, rows: list[dict], searches: int, rng: random.Random
) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        token = (
            await client.post("/auth/login", json={"login_name": "provider", "password": DEMO_PASSWORD})
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        kinds: dict[str, list[float]] = {"name+dob": [], "phone": [], "email": []}
        for i in range(searches):
            row = rng.choice(rows)
            kind = list(kinds)[i % 3]
            if kind == "name+dob":
                params = {
                    "name": row["last_name"][:5].lower(),
                    "date_of_birth": row["date_of_birth"].isoformat(),
                }
            elif kind == "phone":
                params = {"phone": row["phone"]}
            else:
                params = {"email": row["email"].upper()}
            started = time.perf_counter()
            response = await client.get("/recipients", params=params, headers=headers)
            kinds[kind].append(time.perf_counter() - started)
            assert response.status_code == 200 and response.json()["total"] >= 1, response.text
        return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=1500)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp)}/bench.db",
            secret_key="bench-secret-0123456789abcdef-0123456789",
            payload_keys=new_key_spec("bench"),
        )
        upgrade(settings.database_url)
        started = time.perf_counter()
        rows = asyncio.run(load(settings, args.recipients, rng))
        loaded = time.perf_counter() - started
        app = create_app(settings)
        with serve_in_thread(app, free_port()) as base_url:
            kinds = asyncio.run(measure(base_url, rows, args.searches, rng))
    everything = [s for samples in kinds.values() for s in samples]
    rows_out: list[tuple[str, object]] = [("recipients", args.recipients), ("load seconds", loaded)]
    for kind, samples in [*kinds.items(), ("all", everything)]:
        stats = summary(samples)
        rows_out += [(f"{kind} p50 ms", stats["p50_ms"]), (f"{kind} p99 ms", stats["p99_ms"])]
    overall = summary(everything)
    rows_out.append(("target p99 <= 50 ms", "met" if overall["p99_ms"] <= 50 else "MISSED"))
    print_table("bench/search: recipient search over real HTTP (SQLite)", rows_out)


if __name__ == "__main__":
    main()
