"""Launch day: a crowd arrives for a release of seats at one location, on the development stack.

    python -m bench.launch_day [--people 5000] [--seats 500] [--window 60] [--rate 300]
                               [--apis 1] [--crowds 2]

Deployed as it would be: `cvms api` (--apis processes) and `cvms worker` run as processes of
their own, and the crowd runs in --crowds processes of its own (aiohttp), so no latency is
inflated by the load generator sharing an event loop with the server.

Before the surge, in the same run: the raw-Temporal ceiling of bench/booking.py (200 bookings,
20 clients) for its p99, the finder's JSON answer served as a static file by a plain HTTP
server (`python -m http.server`: the physical limit of a read here) and by cvms, each at capacity
(FINDER_CLIENTS loops back to back) with the same client. Then `people` arrive spread over
`window` seconds in a known order, each reads the finder once, joins the waiting room (one
place per browser and email) and follows their place as the page does: it asks the status JSON
again after the `check_again_seconds` the server suggests, and loads the
page when the status changes. The release lets `rate` people in a minute from a few seconds after
the first arrival. A person let in holds a seat with the admission, registers, reads the code
from the captured email and confirms: dose 1 is booked through the journey.

Prints: seats booked, people double-booked, the share admitted in arrival order, finder and
position requests/s with p50/p99, booking (confirm) p50/p99 against the ceiling's p99, the
finder's rate as a share of the static file's, and the CPU seconds each process spent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from bench.booking import ceiling, ceiling_worker, deployed_bytecode, load_average
from bench.common import print_table, summary
from bench.cpu import CpuMeter
from bench.profiles import py_spy
from bench.stack import Stack, stack
from domain.dose_rules import to_local
from records.db import transaction, utcnow
from records.free_seats import add_free_seats
from records.locations import Location
from records.scheduling import Appointment, Slot
from records.waiting_room import QueuePlace, Release
from tests.replicas import Replicas
from worker.devserver import free_port

NONCE = "launch-day-bench"
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
CODE = re.compile(r"^(\d{6})\s*$", re.MULTILINE)
FINDER = "/public/locations?near=27601"
FINDER_CLIENTS = 4
RETRIES = 3
RETRY_PAUSE_SECONDS = 2.0


# --------------------------------------------------------------------------- the crowd (own process)


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

    async def code_for(self, address: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while address not in self.codes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no code for {address}")
            await asyncio.sleep(0.25)
        return self.codes[address]


class Figures:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {"position": [], "booking": [], "finder": [], "steps": []}
        self.outcomes: dict[str, int] = {}

    def note(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


async def crowd_part(spec: dict[str, Any]) -> dict[str, Any]:
    """This process's share of the crowd (and, in the first part, the finder clients)."""
    import aiohttp

    figures = Figures()
    mailbox = Mailbox(Path(spec["mail"]))
    token = spec["csrf"]
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=spec["connections"])
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def timed(kind: str, method: str, url: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
            """One request; a 5xx is tried again after a pause, as a person presses again (each
            try is counted, and a step that works on a later try is timed from its first)."""
            started = time.perf_counter()
            for attempt in range(RETRIES + 1):
                try:
                    async with http.request(method, url, allow_redirects=False, **kwargs) as response:
                        status, text = response.status, await response.text()
                        headers = dict(response.headers)
                except aiohttp.ClientError as error:  # e.g. a keep-alive connection closed under it
                    if attempt == RETRIES:
                        raise
                    figures.note(f"{kind} failed ({type(error).__name__}), tried again")
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
                    continue
                if status < 500 or attempt == RETRIES:
                    break
                figures.note(f"{kind} answered {status}, tried again")
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
            if status < 400:
                figures.latencies[kind].append(time.perf_counter() - started)
            return status, text, headers

        def form(browser: str, **fields: object) -> dict[str, Any]:
            return {
                "data": {CSRF_FIELD: token, **fields},
                "headers": {**HTML, "Cookie": f"{CSRF_COOKIE}={NONCE}; cvms_lang=en; cvms_queue={browser}"},
            }

        async def person(i: int, arrive_at: float) -> None:
            base = spec["apis"][i % len(spec["apis"])]
            await asyncio.sleep(max(0.0, arrive_at - time.time()))
            browser, email = f"browser-{i}", f"person{i}@launch.example.org"
            # Each person finds the location first (the read a CDN would absorb), then joins.
            await timed("finder", "GET", base + FINDER)
            status, _text, headers = await timed(
                "steps", "POST", f"{base}/find/{spec['code']}/queue", **form(browser, email=email)
            )
            if status != 303:
                return figures.note(f"join refused {status}")
            place = base + headers["Location"]
            status, page, _ = await timed("position", "GET", place, headers=HTML)
            while 'id="admitted"' not in page:
                if status != 200:
                    return figures.note(f"position refused {status}")
                if "all taken" in page:
                    return figures.note("told the seats are gone")
                if "used your turn" in page or "Your turn has passed" in page:
                    return figures.note("turn passed")
                every = re.search(r'data-every="(\d+)"', page)
                wait = int(every.group(1)) if every else 10
                shown = "waiting" if 'data-status="waiting"' in page else "sold_out"
                while True:  # what queue-place.js does
                    await asyncio.sleep(wait)
                    status, answer, _ = await timed("position", "GET", f"{place}/status", headers=JSON)
                    if status != 200:
                        return figures.note(f"position refused {status}")
                    now = json.loads(answer)
                    if now["status"] != shown:
                        break
                    wait = int(now["check_again_seconds"])
                status, page, _ = await timed("position", "GET", place, headers=HTML)
            admission = page.split("admission=", 1)[1].split('"', 1)[0]
            status, _text, headers = await timed(
                "steps",
                "POST",
                f"{base}/find/{spec['code']}/times",
                **form(browser, slot_id=spec["slot_id"], admission=admission),
            )
            if status != 303:
                return figures.note(f"seat hold refused {status}")
            details = {
                "first_name": "Launch",
                "last_name": f"Person{i}",
                "date_of_birth": "1970-01-01",
                "sex": "unknown",
                "email": email,
                "preferred_language": "en",
            }
            status, _text, headers = await timed(
                "steps", "POST", base + headers["Location"], **form(browser, **details)
            )
            if status != 303:
                return figures.note(f"registration refused {status}")
            verify_at = base + headers["Location"]
            code = await mailbox.code_for(email)
            status, _text, headers = await timed("booking", "POST", verify_at, **form(browser, code=code))
            if status == 303 and "/find/booked/" in headers.get("Location", ""):
                return figures.note("booked")
            return figures.note(f"confirm refused {status}")

        async def scan_mail() -> None:
            while not done.is_set():
                await asyncio.to_thread(mailbox.scan)
                await asyncio.sleep(0.25)

        scanner = asyncio.create_task(scan_mail())
        people = [person(i, at) for i, at in spec["arrivals"]]
        results = await asyncio.gather(*people, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                figures.note(f"error {type(result).__name__}")
        done.set()
        await scanner
    return {"latencies": figures.latencies, "outcomes": figures.outcomes}


def crowd_main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(crowd_part(spec))))


# --------------------------------------------------------------------------- the run


async def prepare(s: Stack, seats: int, rate: int, release_at: float) -> tuple[str, int]:
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
                release_at=utcnow() + timedelta(seconds=release_at - time.time()),
                admit_per_minute=rate,
                admission_seconds=600,
                created_by="bench",
            )
        )
        return location.code, slot.id


async def read_rate(url: str, seconds: float) -> tuple[float, dict[str, float]]:
    """FINDER_CLIENTS loops GETting `url` for `seconds`: requests/s and latencies (aiohttp)."""
    import aiohttp

    latencies: list[float] = []
    until = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:

        async def loop() -> None:
            while time.monotonic() < until:
                started = time.perf_counter()
                async with http.get(url) as response:
                    await response.read()
                    if response.status == 200:
                        latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(FINDER_CLIENTS)))
        wall = time.monotonic() - started
    return len(latencies) / wall, summary(latencies)


async def static_rate(base_url: str, seconds: float) -> tuple[float, dict[str, float]]:
    """The finder's answer as a file behind `python -m http.server`: the physical limit of a read."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(base_url + FINDER) as response:
        body = await response.read()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "locations.json").write_bytes(body)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            from worker.devserver import wait_for_port

            wait_for_port("127.0.0.1", port, 30, server)
            return await read_rate(f"http://127.0.0.1:{port}/locations.json", seconds)
        finally:
            server.terminate()
            server.wait(timeout=10)


async def outcome(s: Stack, slot_id: int) -> tuple[int, int, float, float]:
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
        places = (await db.execute(select(QueuePlace).order_by(QueuePlace.id))).scalars().all()
    admitted = [p for p in places if p.admitted_at is not None]
    # In arrival order as recorded (the place's id) and as the people were sent (their number).
    earliest = {p.id for p in places[: len(admitted)]}
    by_id = sum(1 for p in admitted if p.id in earliest) / len(admitted) if admitted else float("nan")
    number = {p.id: int((p.email_key or "person-1@").split("@")[0].removeprefix("person")) for p in places}
    first_sent = set(sorted(number.values())[: len(admitted)])
    by_sending = (
        sum(1 for p in admitted if number[p.id] in first_sent) / len(admitted) if admitted else float("nan")
    )
    return int(booked or 0), int(doubles or 0), by_id, by_sending


POSITION_ROUTES = ("/find/queue/{token}", "/find/queue/{token}/status")


def served_latencies(folder: Path, apis: int) -> dict[str, list[float]]:
    """What the API processes themselves measured (their JSON access log's `ms`), by kind: the
    crowd's own client adds the wait of 2,500 people's coroutines in one event loop."""
    found: dict[str, list[float]] = {"position": [], "booking": []}
    for k in range(apis):
        for line in (folder / f"api-{k}.log").read_text(errors="replace").splitlines():
            if '"route"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            kind = (
                "position"
                if entry.get("route") in POSITION_ROUTES
                else "booking"
                if entry.get("route") == "/find/verify/{token}" and entry.get("method") == "POST"
                else None
            )
            if kind and "ms" in entry:
                found[kind].append(float(entry["ms"]) / 1000)
    return found


async def run_crowds(spec: dict[str, Any], parts: list[list[tuple[int, float]]]) -> list[dict[str, Any]]:
    async def one(k: int, arrivals: list[tuple[int, float]]) -> dict[str, Any]:
        part = {**spec, "arrivals": arrivals}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.launch_day",
            "--crowd-part",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(json.dumps(part).encode())
        if process.returncode != 0:
            raise RuntimeError(f"crowd part {k} failed")
        return dict(json.loads(out))

    return await asyncio.gather(*(one(k, arrivals) for k, arrivals in enumerate(parts)))


async def main_async(
    people: int, seats: int, window: float, rate: int, apis: int, crowds: int, profiles: Path | None
) -> None:
    overrides = {
        "self_registration_per_address": "1000000/hour",  # every simulated person comes from 127.0.0.1
        "self_registration_per_email": "1000/hour",
        "seat_hold_seconds": 900,
    }
    async with stack(**overrides) as s:
        deployed_bytecode(s.folder)
        queue = f"ceiling-{uuid.uuid4().hex[:6]}"
        with ceiling_worker(s, queue) as _raw_worker:
            await ceiling(s, queue, 5, 5)
            raw_latencies, _raw_wall = await ceiling(s, queue, 200, 20)
        raw = summary(raw_latencies)
        replicas = Replicas(s.settings, logs=s.folder)
        try:
            bases = [await asyncio.to_thread(replicas.start_api) for _ in range(apis)]
            worker = await asyncio.to_thread(replicas.start_worker)
            begin = time.time() + 40  # after the quiet measurements below
            code, slot_id = await prepare(s, seats, rate, release_at=begin + 5)
            static, static_latency = await static_rate(bases[0], 10)
            quiet, quiet_latency = await read_rate(bases[0] + FINDER, 10)
            arrivals = sorted(begin + random.random() * window for _ in range(people))
            parts = [[(i, at) for i, at in enumerate(arrivals) if i % crowds == k] for k in range(crowds)]
            spec = {
                "apis": bases,
                "code": code,
                "slot_id": slot_id,
                "mail": str(s.smtp.folder),
                "csrf": csrf_token(s.settings.secret_key, NONCE, None),
                "connections": 400,
            }
            pids = {f"api-{k}": process.pid for k, (process, _url) in enumerate(replicas.apis)}
            meter = CpuMeter({**pids, "worker": worker.pid, "temporal": s.server_pid}).start()
            with py_spy({**pids, "worker": worker.pid}, profiles):
                results = await run_crowds(spec, parts)
            surge_seconds = time.time() - begin
            cpu = meter.stop()
        finally:
            await asyncio.to_thread(replicas.stop_all)
        booked, doubles, in_order, in_sending_order = await outcome(s, slot_id)
        served = served_latencies(s.folder, apis)
    latencies = {kind: [v for r in results for v in r["latencies"][kind]] for kind in results[0]["latencies"]}
    outcomes: dict[str, int] = {}
    for r in results:
        for key, value in r["outcomes"].items():
            outcomes[key] = outcomes.get(key, 0) + value
    finder, position, booking, steps = (
        summary(latencies[k]) for k in ("finder", "position", "booking", "steps")
    )
    finder_rate = len(latencies["finder"]) / window
    position_wall = max(1.0, surge_seconds)
    retried = {k: v for k, v in outcomes.items() if "tried again" in k}
    refusals = {
        k: v
        for k, v in outcomes.items()
        if k not in ("booked", "told the seats are gone") and k not in retried
    }
    print_table(
        f"bench/launch_day: {people} people in {window:.0f} s for {seats} seats, let in {rate}/min, "
        f"{apis} API process(es), {crowds} crowd process(es) (load average {load_average()})",
        [
            ("seats booked", booked),
            ("people double-booked", doubles),
            ("people told the seats are gone (waitlist offered)", outcomes.get("told the seats are gone", 0)),
            ("people turned away by a refusal or an error", sum(refusals.values())),
            *((f"  of which: {k}", v) for k, v in sorted(refusals.items())),
            ("requests answered 5xx and tried again", sum(retried.values())),
            *((f"  of which: {k}", v) for k, v in sorted(retried.items())),
            ("share admitted in arrival order (as recorded)", in_order),
            ("share admitted in arrival order (as sent)", in_sending_order),
            ("static file requests/s (at capacity, same client)", static),
            ("static file p50 / p99 ms", f"{static_latency['p50_ms']:.1f} / {static_latency['p99_ms']:.1f}"),
            ("finder requests/s (at capacity, before the surge)", quiet),
            (
                "finder p50 / p99 ms (at capacity)",
                f"{quiet_latency['p50_ms']:.1f} / {quiet_latency['p99_ms']:.1f}",
            ),
            ("finder / static rate, both at capacity (goal >= 0.25)", quiet / static),
            ("finder requests/s (under the surge: each arrival reads it once)", finder_rate),
            ("finder p50 / p99 ms (under the surge)", f"{finder['p50_ms']:.1f} / {finder['p99_ms']:.1f}"),
            ("position requests (page + status)", int(position["n"])),
            ("position requests/s (over the surge)", position["n"] / position_wall),
            ("position p50 ms", position["p50_ms"]),
            ("position p99 ms (goal <= 100)", position["p99_ms"]),
            (
                "position p50 / p99 ms as the API measured it",
                f"{summary(served['position'])['p50_ms']:.1f} / {summary(served['position'])['p99_ms']:.1f}",
            ),
            (
                "other steps (join, seat hold, register) p50 / p99 ms",
                f"{steps['p50_ms']:.0f} / {steps['p99_ms']:.0f}",
            ),
            ("booking (confirm) p50 ms", booking["p50_ms"]),
            ("booking (confirm) p99 ms", booking["p99_ms"]),
            (
                "booking p50 / p99 ms as the API measured it",
                f"{summary(served['booking'])['p50_ms']:.0f} / {summary(served['booking'])['p99_ms']:.0f}",
            ),
            ("ceiling (bench/booking.py) p50 / p99 ms", f"{raw['p50_ms']:.0f} / {raw['p99_ms']:.0f}"),
            ("booking p99 / ceiling p99 (goal <= 3)", booking["p99_ms"] / raw["p99_ms"]),
            ("surge seconds (first arrival to last person done)", surge_seconds),
            *((f"CPU s over the surge: {name}", seconds) for name, seconds in cpu.items()),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--rate", type=int, default=180, help="people let in a minute")
    parser.add_argument("--apis", type=int, default=1, help="cvms API processes")
    parser.add_argument("--crowds", type=int, default=2, help="processes the crowd runs in")
    parser.add_argument("--profiles", type=Path, help="py-spy stacks of the API(s) and worker over the surge")
    parser.add_argument("--crowd-part", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crowd_part:
        crowd_main()
        return
    asyncio.run(
        main_async(args.people, args.seats, args.window, args.rate, args.apis, args.crowds, args.profiles)
    )


if __name__ == "__main__":
    main()
