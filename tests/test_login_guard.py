"""Logins that resist guessing without locking people out, and sessions that end when they should.

Each test runs its own API (create_app) over the suite's database and Temporal, so the throttle's
counters (in memory) and the settings it tests are its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from api.app import create_app
from domain.security import verify_password
from tests.conftest import eventually, login
from worker.seed import DEMO_PASSWORD, DEMO_REQUESTER

REQUESTER = DEMO_REQUESTER[0]
BROWSER = {"Origin": "http://cvms.test"}
DEVICE_COOKIE = "cvms_device"  # api.access.deps.DEVICE_COOKIE


@asynccontextmanager
async def own_api(settings: Any, temporal: Any, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes), temporal)
    # A browser's own origin, as browsers send it with every POST.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cvms.test", headers=BROWSER
    ) as api:
        yield api


def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser on the same API (its own cookies)."""
    return httpx.AsyncClient(transport=api._transport, base_url="http://cvms.test", headers=BROWSER)


async def staff_login(api: httpx.AsyncClient, name: str, password: str, **kw: Any) -> httpx.Response:
    return await api.post("/auth/login", json={"login_name": name, "password": password}, **kw)


async def test_help_desk_logins_are_throttled_like_staff_logins(settings, temporal, worker):
    async with own_api(settings, temporal, login_max_failures=3, login_delay_seconds=30) as api:
        for _ in range(3):
            wrong = await api.post("/helpdesk/login", json={"email": REQUESTER, "password": "guess-1234"})
            assert wrong.status_code == 401
        right = await api.post("/helpdesk/login", json={"email": REQUESTER, "password": DEMO_PASSWORD})
        assert right.status_code == 429 and right.json()["code"] == "login_throttled"
        assert 1 <= int(right.headers["Retry-After"]) <= 30 and right.json()["retry_after_seconds"] >= 1


async def test_guessing_delays_exponentially_but_never_refuses_the_owner_on_a_known_device(
    settings, temporal, worker
):
    async with own_api(
        settings, temporal, login_max_failures=3, login_delay_seconds=1, login_delay_max_seconds=60
    ) as owner:
        first = await staff_login(owner, "readonly", DEMO_PASSWORD)
        assert first.status_code == 200 and owner.cookies.get(DEVICE_COOKIE)
        async with client(owner) as attacker:
            for _ in range(3):
                assert (await staff_login(attacker, "readonly", "guess-1234")).status_code == 401
            paused = await staff_login(attacker, "readonly", DEMO_PASSWORD)
            assert paused.status_code == 429 and paused.headers["Retry-After"] == "1"

            # The delay runs out by itself (no lock), and doubles with every further failure.
            async def attempt_allowed() -> httpx.Response | None:
                response = await staff_login(attacker, "readonly", "guess-5678")
                return response if response.status_code != 429 else None

            assert (await eventually(attempt_allowed, timeout=5)).status_code == 401
            doubled = await staff_login(attacker, "readonly", DEMO_PASSWORD)
            assert doubled.status_code == 429 and doubled.headers["Retry-After"] == "2"
            assert (await eventually(attempt_allowed, timeout=6)).status_code == 401
            assert (await staff_login(attacker, "readonly", DEMO_PASSWORD)).headers["Retry-After"] == "4"

        # Meanwhile the owner's browser, known to this login, logs in at once with the right password.
        again = await staff_login(owner, "readonly", DEMO_PASSWORD)
        assert again.status_code == 200, again.text
        # A forged or foreign device cookie is just a new device.
        async with client(owner) as stranger:
            stranger.cookies.set(DEVICE_COOKIE, "not-signed.by-us")
            assert (await staff_login(stranger, "readonly", DEMO_PASSWORD)).status_code == 429


async def test_one_address_guessing_many_logins_slows_only_that_address(settings, temporal, worker):
    """The address allowance is 4x the login name's; a trusted proxy's X-Forwarded-For names the
    real address, an untrusted one is ignored (a guesser cannot pick a fresh address per try)."""
    for trusted, expect_other in (("", 429), ("127.0.0.1/32", 200)):
        async with own_api(settings, temporal, login_max_failures=1, trusted_proxies=trusted) as api:
            clinic = {"X-Forwarded-For": "203.0.113.7"}
            for name in ("nobody-1", "nobody-2", "nobody-3", "nobody-4"):
                assert (await staff_login(api, name, "guess-1234", headers=clinic)).status_code == 401
            paused = await staff_login(api, "provider", DEMO_PASSWORD, headers=clinic)
            assert paused.status_code == 429, paused.text
            elsewhere = await staff_login(
                api, "provider", DEMO_PASSWORD, headers={"X-Forwarded-For": "198.51.100.9"}
            )
            assert elsewhere.status_code == expect_other, (trusted, elsewhere.text)


async def test_password_hashing_runs_in_a_bounded_pool_and_leaves_the_server_responsive(
    settings, temporal, worker, monkeypatch
):
    """While a crowd of guessed help-desk logins is checked, every argon2 check runs on a thread of
    the configured pool, never on the event loop's thread, and no more run at once than the pool
    holds. (Observed where it runs, not timed: a timing ratio flaked on a busy CI machine.)"""
    import services.passwords

    guesses = 12
    loop_thread = threading.current_thread().name
    ran_on: list[str] = []
    running = peak = 0
    lock = threading.Lock()

    def observed_verify(password_hash: str | None, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            ran_on.append(threading.current_thread().name)
        try:
            return verify_password(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(services.passwords, "verify_password", observed_verify)
    async with own_api(settings, temporal, password_hash_workers=1) as api:
        answers = await asyncio.gather(
            *(
                api.post("/helpdesk/login", json={"email": f"nobody{i}@x.example", "password": "guess-1234"})
                for i in range(guesses)
            )
        )
        assert {a.status_code for a in answers} == {401}
    assert len(ran_on) == guesses
    assert loop_thread not in ran_on
    assert all(name.startswith("cvms-passwords-1_") for name in ran_on), ran_on
    assert peak == 1
    pool = [t for t in threading.enumerate() if t.name.startswith("cvms-passwords-1_")]
    assert len(pool) == 1


async def test_a_password_change_ends_every_other_session(settings, temporal, worker, fast_requester):
    email, password = fast_requester
    async with own_api(settings, temporal) as api:
        sessions = []
        for _ in range(2):
            response = await api.post("/helpdesk/login", json={"email": email, "password": password})
            assert response.status_code == 200
            sessions.append({"Authorization": f"Bearer {response.json()['token']}"})
        api.cookies.clear()
        changed = await api.post(
            "/helpdesk/password",
            json={"current_password": password, "new_password": "the next password 9"},
            headers=sessions[0],
        )
        assert changed.status_code == 200, changed.text
        assert (await api.get("/helpdesk/me", headers=sessions[0])).status_code == 200
        assert (await api.get("/helpdesk/me", headers=sessions[1])).status_code == 401


async def test_sessions_end_after_the_idle_time_and_the_absolute_lifetime(settings, temporal, worker):
    async with own_api(settings, temporal, session_idle_minutes=4 / 60, session_hours=9 / 3600) as api:
        headers = await login(api, "readonly")
        # Used every half second, it outlives its idle time...
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            assert (await api.get("/auth/me", headers=headers)).status_code == 200
            await asyncio.sleep(0.5)

        # ...but not its lifetime (9 s), however active.
        async def ended() -> bool:
            return (await api.get("/auth/me", headers=headers)).status_code == 401

        assert await eventually(ended, timeout=6)
        idle = await login(api, "readonly")
        assert (await api.get("/auth/me", headers=idle)).status_code == 200

        started = time.monotonic()
        # Not used, it ends after its idle time (4 s).
        await asyncio.sleep(4.5)
        assert (await api.get("/auth/me", headers=idle)).status_code == 401
        assert time.monotonic() - started < 9


@pytest.fixture
async def fast_requester(api, smtp) -> tuple[str, str]:
    from tests.test_helpdesk import register_requester

    email, _headers = await register_requester(api, smtp)
    return email, "my own password 42"
