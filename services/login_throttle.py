"""Login throttling that slows guessing without locking the owner out.

Failed logins are counted per login name and per client address (a clinic behind one NAT shares
an address, so its allowance is four times larger). Past the allowance each further attempt waits
an exponentially growing delay (CVMS_LOGIN_DELAY_SECONDS, doubling, at most
CVMS_LOGIN_DELAY_MAX_SECONDS): a refusal is a 429 with the seconds to wait, never a lock.

A browser that has logged in to an account carries a signed device cookie; there only that device's
own failures count, so guessing elsewhere never delays the owner's right password.

The counters live in a `limits` storage (CVMS_LOGIN_THROTTLE_STORAGE): memory for one API process,
a shared one (Redis, Memcached, MongoDB) when several replicas serve logins.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from domain.refusals import Throttled
from domain.security import LinkError, read_link, sign_link
from domain.settings import Settings

DEVICE_PURPOSE = "login-device"
# A device remembers the few accounts last used on it (a shared clinic computer).
DEVICE_ACCOUNTS = 8
ADDRESS_FACTOR = 4


@dataclass(frozen=True)
class Attempt:
    """Who tries to log in: the account key ("user:<login name>" or "requester:<email>"), the client
    address and the device cookie the browser sent (if any)."""

    account: str
    client: str | None
    device_cookie: str | None


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        uri = settings.login_throttle_storage
        storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        assert isinstance(storage, Storage)
        self.storage: Storage = storage
        self.gate = MovingWindowRateLimiter(self.storage)
        self.settings = settings

    # ------------------------------------------------------------------ devices

    def _device(self, cookie: str | None) -> tuple[str, list[str]]:
        """The device id and the accounts it has logged in to; a new id for a missing or bad cookie."""
        if cookie:
            max_age = self.settings.login_device_days * 86400
            try:
                payload = read_link(self.settings.secret_key, DEVICE_PURPOSE, cookie, max_age)
                return str(payload["device"]), [str(a) for a in payload.get("accounts", [])]
            except (LinkError, KeyError):
                pass
        return secrets.token_urlsafe(12), []

    def remembered(self, attempt: Attempt) -> str:
        """The device cookie to set after a successful login: this account joins the device's list."""
        device, accounts = self._device(attempt.device_cookie)
        accounts = [attempt.account] + [a for a in accounts if a != attempt.account]
        return sign_link(
            self.settings.secret_key,
            DEVICE_PURPOSE,
            {"device": device, "accounts": accounts[:DEVICE_ACCOUNTS]},
        )

    def _subjects(self, attempt: Attempt) -> list[tuple[str, int]]:
        """What this attempt is counted against, each with its free allowance."""
        free = self.settings.login_max_failures
        device, accounts = self._device(attempt.device_cookie)
        if attempt.account in accounts:
            return [(f"device:{device}:{attempt.account}", free)]
        return [
            (f"account:{attempt.account}", free),
            (f"ip:{attempt.client or 'unknown'}", free * ADDRESS_FACTOR),
        ]

    # ------------------------------------------------------------------ delays

    def _delay(self, failures: int, free: int) -> int:
        if failures < free:
            return 0
        settings = self.settings
        delay = settings.login_delay_seconds * 2 ** min(failures - free, 40)
        return max(1, math.ceil(min(float(delay), settings.login_delay_max_seconds)))

    @staticmethod
    def _counter(subject: str) -> str:
        return f"cvms-login-failures/{subject}"

    async def check(self, attempt: Attempt) -> None:
        """Refuses (429 with the seconds to wait) while a delay of this attempt's subjects runs."""
        wait = 0.0
        for subject, free in self._subjects(attempt):
            failures = await self.storage.get(self._counter(subject))
            delay = self._delay(failures, free)
            if not delay:
                continue
            step = RateLimitItemPerSecond(1, delay)
            if not await self.gate.test(step, subject, str(failures)):
                stats = await self.gate.get_window_stats(step, subject, str(failures))
                wait = max(wait, stats.reset_time - time.time())
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise Throttled(
                f"too many failed logins; try again in {seconds} seconds",
                code="login_throttled",
                retry_after_seconds=seconds,
            )

    async def failed(self, attempt: Attempt) -> None:
        for subject, free in self._subjects(attempt):
            failures = await self.storage.incr(
                self._counter(subject), math.ceil(self.settings.login_window_seconds)
            )
            delay = self._delay(failures, free)
            if delay:  # the delay starts now: the gate's one slot is taken for `delay` seconds
                await self.gate.hit(RateLimitItemPerSecond(1, delay), subject, str(failures))

    async def succeeded(self, attempt: Attempt) -> None:
        """The account's own count starts again (the address's count is left to expire)."""
        for subject, _free in self._subjects(attempt):
            if not subject.startswith("ip:"):
                await self.storage.clear(self._counter(subject))
