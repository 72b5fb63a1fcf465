"""Launch day: a crowd arrives for a release of seats at one location, on the development stack.

    python -m bench.launch_day [--people 5000] [--seats 500] [--window 60]

`people` arrive spread over `window` seconds (a known order), join the waiting room, and look at
their place every few seconds; the release lets 10 seats' worth of people in a second (or the
--rate given) from a few seconds after the first arrival. A person let in holds a seat with their
admission, registers, reads the code from the captured email and confirms: dose 1 is booked.
Meanwhile finder clients read the public finder; afterwards the same finder response is served as
a static file by a plain HTTP server (`python -m http.server`) for the physical limit of a read.

Prints: seats booked, people double-booked, the share of admitted people who were among the
earliest arrivals, finder and position-page requests/s with p50/p99, booking (confirm) p50/p99,
and the finder's rate as a share of the static file's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
from sqlalchemy import func, select

from api.app import create_app
from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from bench.common import print_table, serve_in_thread, summary
from bench.stack import Stack, stack
from domain.dose_rules import to_local
from records.db import transaction, utcnow
from records.free_seats import add_free_seats
from records.locations import Location
from records.scheduling import Appointment, Slot
from records.waiting_room import QueuePlace, Release
from worker.devserver import free_port
from worker.main import build_worker

NONCE = "launch-day-bench"
HTML = {"Accept": "text/html"}
CODE = re.compile(r"^(\d{6})\s*$", re.MULTILINE)
POLL_SECONDS = 3.0


class Mailbox:
    """The code each address was sent, read from the capture folder as messages arrive."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.seen, self.codes = folder, set[str](), dict[str, str]()

    def scan(self) -> None:
        for path in self.folder.glob("*.eml"):
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            message: Message = message_from_bytes(path.read_bytes())
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    found = CODE.search(part.get_payload(decode=True).decode())  # type: ignore[union-attr]
                    if found:
                        self.codes[str(message["To"])] = found.group(1)

    async def code_for(self, address: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while address not in self.codes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no code for {address}")
            await asyncio.sleep(0.5)
        return self.codes[address]


async def prepare(s: Stack, seats: int, rate: int, first_arrival_in: float) -> tuple[str, int]:
    async with transaction(s.sessions) as db:
        location = (await db.execute(select(Location).where(Location.code == "WAKE-01"))).scalar_one()
        location.published = location.scheduling_enabled = location.self_scheduling = True
        start = (utcnow() + timedelta(days=3)).replace(microsecond=0)
        day = to_local(start, location.time_zone).date()
        slot = Slot(
            location_id=location.id,
            start_at=start,
            end_at=start + timedelta(hours=8),
            capacity=seats,
            booked=0,
            product_code="pfizer",
            is_open=True,
            local_day=day,
        )
        db.add(slot)
        await db.flush()
        await add_free_seats(db, location.id, day, "pfizer", seats)
        db.add(
            Release(
                location_id=location.id,
                release_at=utcnow() + timedelta(seconds=first_arrival_in + 5),
                admit_per_minute=rate,
                admission_seconds=600,
                created_by="bench",
            )
        )
        return location.code, slot.id


def form(settings, browser: str, **fields: object) -> dict:  # type: ignore[no-untyped-def]
    return {
        "data": {CSRF_FIELD: csrf_token(settings.secret_key, NONCE, None), **fields},
        "headers": {**HTML, "Cookie": f"{CSRF_COOKIE}={NONCE}; cvms_lang=en; cvms_queue={browser}"},
    }


async def read_load(
    http: httpx.AsyncClient, url: str, clients: int, until: float
) -> tuple[list[float], float]:
    """GETs of `url` from `clients` loops until `until` (monotonic): latencies and wall time."""
    latencies: list[float] = []

    async def loop() -> None:
        while time.monotonic() < until:
            started = time.perf_counter()
            response = await http.get(url)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:  # a refused read counts as no read (the rate falls), not as a fast one
                await asyncio.sleep(0.1)

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies, time.monotonic() - started


async def crowd(
    s: Stack, base_url: str, code: str, slot_id: int, people: int, window: float
) -> dict[str, list[float]]:
    mailbox = Mailbox(s.smtp.folder)
    positions: list[float] = []
    bookings: list[float] = []
    refused: list[int] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as http:
        done = asyncio.Event()
        # The crowd's requests in flight at once: httpx's pool matches every queued request against
        # every connection, so thousands queued there would spend this process's CPU (and the GIL
        # the API's thread needs) on the client side.
        gate = asyncio.Semaphore(150)

        async def get(url: str, **kwargs: object) -> httpx.Response:
            async with gate:
                return await http.get(url, **kwargs)  # type: ignore[arg-type]

        async def post(url: str, **kwargs: object) -> httpx.Response:
            async with gate:
                return await http.post(url, **kwargs)  # type: ignore[arg-type]

        async def scan_mail() -> None:
            while not done.is_set():
                await asyncio.to_thread(mailbox.scan)
                await asyncio.sleep(0.5)

        async def person(i: int, arrive_at: float) -> None:
            await asyncio.sleep(max(0.0, arrive_at - time.monotonic()))
            browser, email = f"browser-{i}", f"person{i}@launch.example.org"
            joined = await post(f"/find/{code}/queue", **form(s.settings, browser, email=email))
            if joined.status_code != 303:  # e.g. 503: SQLite's one writer was busy for too long
                refused.append(joined.status_code)
                return
            place = joined.headers["location"]
            while True:
                started = time.perf_counter()
                page = await get(place, headers=HTML)
                positions.append(time.perf_counter() - started)
                if page.status_code != 200:
                    refused.append(page.status_code)
                    return
                if 'id="admitted"' in page.text:
                    break
                if "all taken" in page.text or "used your turn" in page.text:
                    return
                await asyncio.sleep(POLL_SECONDS * (0.5 + random.random()))
            admission = page.text.split("admission=", 1)[1].split('"', 1)[0]
            held = await post(
                f"/find/{code}/times", **form(s.settings, browser, slot_id=slot_id, admission=admission)
            )
            if held.status_code != 303:
                refused.append(held.status_code)
                return
            details = {
                "first_name": "Launch",
                "last_name": f"Person{i}",
                "date_of_birth": "1970-01-01",
                "sex": "unknown",
                "email": email,
                "preferred_language": "en",
            }
            sent = await post(held.headers["location"], **form(s.settings, browser, **details))
            if sent.status_code != 303:
                refused.append(sent.status_code)
                return
            verify_at = sent.headers["location"]
            code_sent = await mailbox.code_for(email)
            started = time.perf_counter()
            booked = await post(verify_at, **form(s.settings, browser, code=code_sent))
            if booked.status_code == 303 and "/find/booked/" in booked.headers["location"]:
                bookings.append(time.perf_counter() - started)
            else:
                refused.append(booked.status_code)

        scanner = asyncio.create_task(scan_mail())
        begin = time.monotonic() + 2
        arrivals = sorted(begin + random.random() * window for _ in range(people))
        finder_until = begin + window
        finder, finder_wall = await asyncio.gather(
            read_load(http, "/public/locations?near=27601", 4, finder_until),
            asyncio.gather(*(person(i, at) for i, at in enumerate(arrivals))),
        )
        done.set()
        await scanner
    return {
        "positions": positions,
        "bookings": bookings,
        "finder": finder[0],
        "finder_wall": [finder[1]],
        "refused": [float(code) for code in refused],
    }


async def static_limit(base_url: str, seconds: float) -> tuple[float, dict[str, float]]:
    """The finder's response as a file behind `python -m http.server`: its rate and latencies."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        body = (await http.get("/public/locations?near=27601")).content
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "locations.json").write_bytes(body)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(100):
                    try:
                        await http.get("/locations.json")
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.1)
                latencies, wall = await read_load(http, "/locations.json", 4, time.monotonic() + seconds)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return len(latencies) / wall, summary(latencies)


async def outcome(s: Stack, slot_id: int, seats: int) -> tuple[int, int, float]:
    async with transaction(s.sessions) as db:
        booked = await db.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot_id)
        )
        doubles = await db.scalar(
            select(func.count()).select_from(
                select(Appointment.recipient_id)
                .where(Appointment.slot_id == slot_id)
                .group_by(Appointment.recipient_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        admitted = (
            (
                await db.execute(
                    select(QueuePlace.id).where(QueuePlace.admitted_at.is_not(None)).order_by(QueuePlace.id)
                )
            )
            .scalars()
            .all()
        )
        everyone = (await db.execute(select(QueuePlace.id).order_by(QueuePlace.id))).scalars().all()
    earliest = set(everyone[: len(admitted)])
    in_order = sum(1 for place in admitted if place in earliest) / len(admitted) if admitted else float("nan")
    return int(booked or 0), int(doubles or 0), in_order


async def main_async(people: int, seats: int, window: float, rate: int) -> None:
    overrides = {
        "self_registration_per_address": "1000000/hour",  # every simulated person comes from 127.0.0.1
        "self_registration_per_email": "1000/hour",
        "seat_hold_seconds": 900,
    }
    async with stack(**overrides) as s:
        async with build_worker(s.temporal, s.settings):
            with serve_in_thread(create_app(s.settings), free_port()) as base_url:
                code, slot_id = await prepare(s, seats, rate, first_arrival_in=2)
                figures = await crowd(s, base_url, code, slot_id, people, window)
                finder_rate = len(figures["finder"]) / figures["finder_wall"][0]
                static_rate, static = await static_limit(base_url, 10)
                booked, doubles, in_order = await outcome(s, slot_id, seats)
    positions, bookings, finder = (summary(figures[k]) for k in ("positions", "bookings", "finder"))
    print_table(
        f"bench/launch_day: {people} people in {window:.0f} s for {seats} seats, let in {rate}/min",
        [
            ("people turned away by a refusal or an error on the way", len(figures["refused"])),
            ("seats booked", booked),
            ("people double-booked", doubles),
            ("share admitted in arrival order", in_order),
            ("finder requests/s (under the surge)", finder_rate),
            ("finder p50 ms", finder["p50_ms"]),
            ("finder p99 ms", finder["p99_ms"]),
            ("position-page requests", int(positions["n"])),
            ("position-page p50 ms", positions["p50_ms"]),
            ("position-page p99 ms (goal <= 100)", positions["p99_ms"]),
            ("booking (confirm) p50 ms", bookings["p50_ms"]),
            ("booking (confirm) p99 ms", bookings["p99_ms"]),
            ("static file requests/s", static_rate),
            ("static file p50 ms", static["p50_ms"]),
            ("finder / static rate (goal >= 0.25)", finder_rate / static_rate),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--rate", type=int, default=600, help="people let in a minute")
    args = parser.parse_args()
    asyncio.run(main_async(args.people, args.seats, args.window, args.rate))


if __name__ == "__main__":
    main()
