"""Dose-series rules: pure, deterministic arithmetic on UTC instants.

Imported inside Temporal workflows and by the API, so this module does no I/O,
never reads the wall clock, uses no randomness and imports nothing from
Temporal. Only the standard library.

Time model (see DESIGN.md, "Time"):

* Every instant passed in must be an *aware* datetime (naive ones raise
  ``ValueError``); every instant returned is in UTC.
* Arithmetic is done on the UTC timeline, never on a local wall clock, so a
  "24 hours before" reminder is 86 400 s before across daylight-saving changes.
* One rule "day" is ``day_seconds`` long (the setting ``CVMS_DAY_SECONDS``,
  default 86 400), so a demo can run a whole series in seconds.

Rule summary (see DESIGN.md, "The dose series"):

* Booking dose n > 1: allowed only when ``earliest <= slot_start <=
  recommended_latest``, where earliest = previous dose + interval and
  recommended latest = previous dose + ``recommended_latest_days``. No grace
  when booking.
* Documenting dose n > 1: accepted silently from ``earliest`` on (also after
  the recommended latest: a late dose is still a valid dose and the series is
  not restarted, so no warning is returned; a caller that wants to flag
  lateness can compare with :func:`next_dose_window` itself). Accepted *with a
  warning* in ``[grace_start, earliest)``; refused before ``grace_start``.

Violation codes (``RuleViolation.code``):

=========================  ==========  =====================================
code                       kind        when
=========================  ==========  =====================================
``dose_outside_window``    conflict    booking dose n > 1 before earliest or
                                       after recommended latest
``dose_too_early``         conflict    documenting a dose before grace_start
                                       (or not after the previous dose)
``series_complete``        conflict    dose number beyond ``rule.doses``
``wrong_product``          conflict    dose n > 1 of another product
``product_not_booked``     conflict    a dose of another product than the
                                       series' booked appointment
``dose_number_mismatch``   conflict    dose 1 with a previous dose, or dose
                                       n > 1 without one
``invalid_dose_number``    invalid     dose number < 1
=========================  ==========  =====================================

``kind`` "conflict" maps to HTTP 409, "invalid" to HTTP 422.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.refusals import Refusal

__all__ = [
    "DEFAULT_PRODUCTS",
    "DEFAULT_PRODUCTS_BY_CODE",
    "DoseWindow",
    "ProductRule",
    "RuleViolation",
    "check_booking",
    "check_documentation",
    "check_next_product",
    "check_same_product",
    "day_length",
    "is_series_complete",
    "next_dose_window",
    "reminder_instant",
    "to_local",
]


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class ProductRule:
    """A versioned product rule. Seeds the database; a journey keeps its copy."""

    code: str
    name: str
    version: int
    doses: int
    interval_days: int
    recommended_latest_days: int = 42
    grace_days: int = 4
    # Set when the series follows a schedule (domain.schedules): which one, which version, a
    # primary series or a booster, the family's number of its first dose, and the minimum interval
    # before each later dose (empty: ``interval_days`` before every one).
    family: str = ""
    schedule_code: str = ""
    schedule_version: int = 0
    series_kind: str = "primary"
    first_dose_number: int = 1
    intervals: tuple[int, ...] = ()
    # Days after the series' last dose when the schedule's next dose (a booster) is due; 0: none.
    next_after_days: int = 0

    def interval_before(self, dose_number: int | None) -> int:
        """The minimum interval (days) between dose ``dose_number`` - 1 and dose ``dose_number``."""
        if dose_number is not None and 2 <= dose_number <= len(self.intervals) + 1:
            return self.intervals[dose_number - 2]
        return self.interval_days

    def __post_init__(self) -> None:
        if not self.code:
            raise ValueError("product code must not be empty")
        if self.version < 1:
            raise ValueError(f"{self.code}: version must be >= 1")
        if self.doses < 1:
            raise ValueError(f"{self.code}: doses must be >= 1")
        if self.interval_days < 0 or self.grace_days < 0:
            raise ValueError(f"{self.code}: interval_days and grace_days must be >= 0")
        if self.doses > 1 and self.interval_days < 1:
            raise ValueError(f"{self.code}: a multi-dose product needs interval_days >= 1")
        if self.doses > 1 and self.recommended_latest_days < self.interval_days:
            raise ValueError(f"{self.code}: recommended_latest_days must be >= interval_days")
        if any(days < 1 or days > self.recommended_latest_days for days in self.intervals):
            raise ValueError(f"{self.code}: every interval must be 1..recommended_latest_days")


DEFAULT_PRODUCTS: tuple[ProductRule, ...] = (
    ProductRule(code="pfizer", name="Pfizer-BioNTech", version=1, doses=2, interval_days=21),
    ProductRule(code="moderna", name="Moderna", version=1, doses=2, interval_days=28),
    ProductRule(code="novavax", name="Novavax", version=1, doses=2, interval_days=21),
    ProductRule(code="janssen", name="Janssen", version=1, doses=1, interval_days=0),
)

DEFAULT_PRODUCTS_BY_CODE: MappingProxyType[str, ProductRule] = MappingProxyType(
    {p.code: p for p in DEFAULT_PRODUCTS}
)


# --------------------------------------------------------------------------- errors

ViolationKind = Literal["conflict", "invalid"]


class RuleViolation(Refusal):
    """A business rule refused the request.

    ``code`` is machine-readable, ``message`` is for people, ``kind`` is
    "conflict" (the state of the series does not allow it) or "invalid" (the
    request is wrong), ``details`` holds structured facts (e.g. the window as
    ISO instants) so a caller can render them in the location's time zone.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        kind: ViolationKind = "conflict",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, **dict(details or {}))
        self.code: str = code
        self.kind = kind

    @property
    def details(self) -> dict[str, Any]:
        return self.extra

    @property
    def is_conflict(self) -> bool:
        return self.kind == "conflict"

    def __repr__(self) -> str:
        return f"RuleViolation(code={self.code!r}, kind={self.kind!r}, message={self.message!r})"


# --------------------------------------------------------------------------- helpers


def day_length(day_seconds: float) -> timedelta:
    """The length of one rule day; ``day_seconds`` must be finite and > 0."""
    if isinstance(day_seconds, bool) or not isinstance(day_seconds, int | float):
        raise TypeError("day_seconds must be a number")
    if not math.isfinite(day_seconds) or day_seconds <= 0:
        raise ValueError(f"day_seconds must be a finite number > 0, got {day_seconds!r}")
    return timedelta(seconds=day_seconds)


def _days(n: int, day_seconds: float) -> timedelta:
    day_length(day_seconds)
    # Multiply in seconds, then convert once (timedelta rounds to microseconds).
    return timedelta(seconds=n * day_seconds)


def _utc(instant: datetime, what: str) -> datetime:
    if not isinstance(instant, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (got a naive one)")
    return instant.astimezone(UTC)


def _fmt(instant: datetime, day_seconds: float) -> str:
    """ISO date for real days; a full ISO instant when a "day" is shorter."""
    if day_seconds >= 86400:
        return instant.date().isoformat()
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fmt_days(n: float) -> str:
    n = round(n, 1)
    text = f"{n:g}"
    return f"{text} day" if text == "1" else f"{text} days"


def _check_dose_number(rule: ProductRule, dose_number: int) -> None:
    if isinstance(dose_number, bool) or not isinstance(dose_number, int):
        raise RuleViolation(
            "invalid_dose_number",
            f"Dose number must be a whole number, got {dose_number!r}.",
            kind="invalid",
        )
    if dose_number < 1:
        raise RuleViolation(
            "invalid_dose_number",
            f"Dose number must be 1 or more, got {dose_number}.",
            kind="invalid",
            details={"dose_number": dose_number},
        )
    if dose_number > rule.doses:
        series = "1 dose" if rule.doses == 1 else f"{rule.doses} doses"
        raise RuleViolation(
            "series_complete",
            f"{rule.name} is a {series} series; there is no dose {dose_number}.",
            details={"dose_number": dose_number, "doses": rule.doses, "product": rule.code},
        )


def _check_previous(
    rule: ProductRule, dose_number: int, previous_dose_at: datetime | None
) -> datetime | None:
    if dose_number == 1:
        if previous_dose_at is not None:
            raise RuleViolation(
                "dose_number_mismatch",
                f"Dose 1 of {rule.name} cannot follow an earlier dose of the same series.",
                details={"dose_number": 1},
            )
        return None
    if previous_dose_at is None:
        raise RuleViolation(
            "dose_number_mismatch",
            f"Dose {dose_number} of {rule.name} needs dose {dose_number - 1} first.",
            details={"dose_number": dose_number},
        )
    return _utc(previous_dose_at, "previous_dose_at")


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class DoseWindow:
    """When the next dose may be booked/given. All instants in UTC."""

    earliest: datetime
    recommended_latest: datetime
    grace_start: datetime

    def contains(self, instant: datetime) -> bool:
        """True when ``earliest <= instant <= recommended_latest`` (booking window)."""
        t = _utc(instant, "instant")
        return self.earliest <= t <= self.recommended_latest

    def as_dict(self) -> dict[str, str]:
        return {
            "earliest": self.earliest.isoformat(),
            "recommended_latest": self.recommended_latest.isoformat(),
            "grace_start": self.grace_start.isoformat(),
        }


def next_dose_window(
    rule: ProductRule, previous_dose_at: datetime, day_seconds: float, dose_number: int | None = None
) -> DoseWindow:
    """The window for the dose after the one given at ``previous_dose_at``.

    earliest = previous + interval_days; recommended_latest = previous +
    recommended_latest_days; grace_start = earliest - grace_days. Raises
    ``RuleViolation("series_complete")`` for a single-dose product.
    """
    prev = _utc(previous_dose_at, "previous_dose_at")
    day_length(day_seconds)
    if rule.doses < 2:
        raise RuleViolation(
            "series_complete",
            f"{rule.name} is a single-dose series; there is no next dose.",
            details={"doses": rule.doses, "product": rule.code},
        )
    earliest = prev + _days(rule.interval_before(dose_number), day_seconds)
    return DoseWindow(
        earliest=earliest,
        recommended_latest=prev + _days(rule.recommended_latest_days, day_seconds),
        grace_start=earliest - _days(rule.grace_days, day_seconds),
    )


# --------------------------------------------------------------------------- checks


def check_booking(
    rule: ProductRule,
    dose_number: int,
    slot_start: datetime,
    previous_dose_at: datetime | None,
    day_seconds: float,
) -> None:
    """Raise ``RuleViolation`` unless dose ``dose_number`` may be booked at ``slot_start``.

    Dose 1 is always bookable. Dose n > 1 needs ``previous_dose_at`` and
    ``earliest <= slot_start <= recommended_latest`` (no grace when booking).
    """
    start = _utc(slot_start, "slot_start")
    day_length(day_seconds)
    _check_dose_number(rule, dose_number)
    prev = _check_previous(rule, dose_number, previous_dose_at)
    if prev is None:
        return
    window = next_dose_window(rule, prev, day_seconds, dose_number)
    if window.earliest <= start <= window.recommended_latest:
        return
    early = start < window.earliest
    lo, hi = _fmt(window.earliest, day_seconds), _fmt(window.recommended_latest, day_seconds)
    where = "before the earliest date" if early else "after the recommended latest date"
    raise RuleViolation(
        "dose_outside_window",
        f"Dose {dose_number} of {rule.name} can be booked from {lo} to {hi}; "
        f"the slot at {_fmt(start, day_seconds)} is {where}.",
        details={
            "dose_number": dose_number,
            "product": rule.code,
            "slot_start": start.isoformat(),
            "too_early": early,
            **window.as_dict(),
        },
    )


def check_documentation(
    rule: ProductRule,
    dose_number: int,
    given_at: datetime,
    previous_dose_at: datetime | None,
    day_seconds: float,
) -> str | None:
    """Check a dose being documented as given at ``given_at``.

    Returns None when on time (from ``earliest`` on, including after the
    recommended latest: a late dose is still valid), a warning text when given
    in the grace period ``[grace_start, earliest)``, and raises
    ``RuleViolation`` (conflict) when earlier than ``grace_start``, not after
    the previous dose, or inconsistent with the series (dose number).
    """
    given = _utc(given_at, "given_at")
    day_length(day_seconds)
    _check_dose_number(rule, dose_number)
    prev = _check_previous(rule, dose_number, previous_dose_at)
    if prev is None:
        return None
    window = next_dose_window(rule, prev, day_seconds, dose_number)
    details = {
        "dose_number": dose_number,
        "product": rule.code,
        "given_at": given.isoformat(),
        **window.as_dict(),
    }
    if given < window.grace_start or given <= prev:
        early_by = (window.earliest - given).total_seconds() / day_seconds
        raise RuleViolation(
            "dose_too_early",
            f"Dose {dose_number} of {rule.name} given at {_fmt(given, day_seconds)} is "
            f"{_fmt_days(early_by)} before the earliest date "
            f"{_fmt(window.earliest, day_seconds)}, more than the "
            f"{rule.grace_days}-day grace period allows "
            f"(accepted from {_fmt(window.grace_start, day_seconds)}).",
            details=details,
        )
    if given < window.earliest:
        early_by = (window.earliest - given).total_seconds() / day_seconds
        return (
            f"Dose {dose_number} of {rule.name} was given {_fmt_days(early_by)} before the "
            f"earliest date {_fmt(window.earliest, day_seconds)}; accepted within the "
            f"{rule.grace_days}-day grace period."
        )
    return None


def check_same_product(series_product_code: str, product_code: str) -> None:
    """Later doses must be the same product as the series."""
    if series_product_code != product_code:
        raise RuleViolation(
            "wrong_product",
            f"This series is {series_product_code}; a later dose must be the same "
            f"product, not {product_code}.",
            details={"series_product": series_product_code, "product": product_code},
        )


def check_next_product(
    series_product_code: str | None, booked_product_code: str | None, product_code: str
) -> None:
    """The next dose is the series' product (after its first dose) and the product its booked
    appointment is for: a dose of another product is refused, never silently documented and
    counted as the appointment's. ``None``: no series product yet, no active appointment."""
    if series_product_code is not None:
        check_same_product(series_product_code, product_code)
    if booked_product_code is not None and booked_product_code != product_code:
        raise RuleViolation(
            "product_not_booked",
            f"The recipient is booked for {booked_product_code}, not {product_code}; document the "
            f"booked product, or cancel the appointment first.",
            details={"booked_product": booked_product_code, "product": product_code},
        )


def is_series_complete(rule: ProductRule, doses_documented: int) -> bool:
    """True once ``doses_documented`` reaches the rule's number of doses."""
    if doses_documented < 0:
        raise ValueError(f"doses_documented must be >= 0, got {doses_documented}")
    return doses_documented >= rule.doses


# --------------------------------------------------------------------------- time


def reminder_instant(appointment_start: datetime, lead_seconds: float) -> datetime:
    """The UTC instant ``lead_seconds`` before the appointment, on the UTC timeline.

    (Subtracting a timedelta from a zoneinfo-aware datetime would do wall-clock
    arithmetic and be an hour off across a DST change; this does not.)
    """
    start = _utc(appointment_start, "appointment_start")
    if not math.isfinite(lead_seconds) or lead_seconds < 0:
        raise ValueError(f"lead_seconds must be a finite number >= 0, got {lead_seconds!r}")
    return start - timedelta(seconds=lead_seconds)


def to_local(instant: datetime, tz_name: str) -> datetime:
    """``instant`` as an aware datetime in the IANA time zone ``tz_name`` (for rendering)."""
    t = _utc(instant, "instant")
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz_name!r}") from exc
    return t.astimezone(zone)
