"""Business-hours arithmetic on UTC instants, for the help desk's SLA clocks.

Imported inside Temporal workflows and by the API, so this module does no I/O
of its own (``zoneinfo`` loads the time-zone database lazily), never reads the
wall clock, uses no randomness and imports nothing from Temporal.

Time model (see DESIGN.md, "Time" and "A help-desk case"):

* Every instant passed in must be *aware* (naive ones raise ``ValueError``);
  every instant returned is in UTC.
* A calendar lists weekly opening windows in the *local wall time* of its time
  zone, plus holidays (local dates fully closed). Each window is turned into a
  UTC interval per date, so day lengths follow daylight-saving changes.
* A window opens at the first instant at which the local wall clock reads the
  opening time or later on that date, and closes at the first instant at which
  it reads the closing time or later. At daylight-saving changes this means:

  - a wall time skipped by a spring-forward gap (02:30 on 2026-03-08 in New
    York) maps to the transition instant (03:00 EDT): that is when the clock
    first reaches it;
  - a wall time repeated by a fall-back overlap (01:30 on 2026-11-01) maps to
    its first occurrence (EDT), so the clock going back never reopens a window
    that has closed;
  - a window spanning a change lasts its real duration: 01:00-03:00 is one hour
    long on 2026-03-08 and three hours long on 2026-11-01.

* Closing time ``time(0)`` (written ``24:00`` in a spec) means midnight at the
  end of the day. Overlapping or touching windows of a day are merged.

The arithmetic walks days and windows, never minutes, so spans of months cost
a few hundred window conversions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "ALWAYS_SPEC",
    "END_OF_DAY",
    "HELP_DESK_CALENDAR_DEFAULT",
    "WEEKDAY_NAMES",
    "BusinessCalendar",
    "add_business_seconds",
    "add_business_time",
    "business_seconds_between",
    "business_time_between",
    "is_open",
    "parse_holidays",
]

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_SPEC = "always"
# As a closing time: midnight at the end of the day ("24:00" in a spec).
END_OF_DAY = time(0)

Window = tuple[int, time, time]

_ONE_DAY = timedelta(days=1)
# Inside Temporal's workflow sandbox ``ZoneInfo`` is a restriction proxy, and so is every zone
# it returns; datetime's C code rejects those as tzinfo. A proxied zone reports the real class
# as ``__class__``, so zones are built from that class (outside the sandbox: ZoneInfo itself).
_ZONE_CLASS: type[ZoneInfo] = ZoneInfo("UTC").__class__
_FULL_DAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_DAY_INDEX = {name: i for i, name in enumerate(WEEKDAY_NAMES)} | {
    name: i for i, name in enumerate(_FULL_DAY_NAMES)
}
_CLAUSE = re.compile(r"(?P<days>[a-z][a-z,\s-]*?)\s+(?P<windows>\d.*)")
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
_WINDOW = re.compile(_TIME + r"-" + _TIME)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening hours in a time zone, minus holidays.

    ``weekly`` holds ``(weekday, opening, closing)`` with weekday 0 = Monday;
    it is normalised on construction (sorted, overlapping windows merged).
    ``always=True`` makes every instant business time (see ``always_open``).
    """

    tz_name: str
    weekly: tuple[Window, ...] = ()
    holidays: frozenset[date] = frozenset()
    always: bool = False

    def __post_init__(self) -> None:
        _zone(self.tz_name)  # validates the name
        holidays = frozenset(self.holidays)
        for day in holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"holiday {day!r} is not a date")
        object.__setattr__(self, "holidays", holidays)
        if self.always:
            if self.weekly or holidays:
                raise ValueError(
                    "an always-open calendar has no weekly windows or holidays; for round-the-"
                    "clock hours with holidays use the spec 'mon-sun 00:00-24:00'"
                )
            return
        weekly = _normalise_windows(self.weekly)
        if not weekly:
            raise ValueError("a business calendar needs at least one opening window")
        object.__setattr__(self, "weekly", weekly)

    @classmethod
    def always_open(cls, tz: str = "UTC") -> BusinessCalendar:
        """A round-the-clock calendar: every instant counts (``tz`` is for display)."""
        return cls(tz_name=tz, always=True)

    @classmethod
    def from_spec(cls, spec: str, tz: str, holidays: Iterable[date | str] | str = ()) -> BusinessCalendar:
        """Parse a compact spec such as ``"mon-fri 07:00-19:00; sat 08:00-16:00"``.

        Clauses are separated by ``;``. A clause is a day list (``mon``,
        ``mon-fri``, ``mon,wed,fri``; ranges may wrap, as ``fri-mon``) and one or
        more ``HH:MM-HH:MM`` windows separated by commas or spaces; ``24:00`` is
        allowed as a closing time. Days not named are closed. ``"always"`` gives
        a round-the-clock calendar. ``holidays`` are dates, ISO date strings, or
        one string of them separated by commas (see ``parse_holidays``).
        """
        if not isinstance(spec, str):
            raise ValueError(f"business-hours spec must be a string, not {type(spec).__name__}")
        holiday_dates = _coerce_holidays(holidays)
        text = spec.strip().lower()
        if text == ALWAYS_SPEC:
            if holiday_dates:
                raise ValueError("an 'always' calendar cannot have holidays; use 'mon-sun 00:00-24:00'")
            return cls.always_open(tz)
        windows: list[Window] = []
        for clause in text.split(";"):
            if clause.strip():  # tolerate a trailing ";"
                windows.extend(_parse_clause(clause.strip()))
        if not windows:
            raise ValueError(
                f"business-hours spec {spec!r} names no opening hours "
                "(expected e.g. 'mon-fri 07:00-19:00; sat 08:00-16:00' or 'always')"
            )
        return cls(tz_name=tz, weekly=tuple(windows), holidays=holiday_dates)

    def to_spec(self) -> str:
        """The canonical spec string; ``from_spec(cal.to_spec(), ...)`` gives ``cal`` back."""
        if self.always:
            return ALWAYS_SPEC
        by_day: list[tuple[tuple[time, time], ...]] = [
            tuple((opening, closing) for wd, opening, closing in self.weekly if wd == day) for day in range(7)
        ]
        clauses: list[str] = []
        day = 0
        while day < 7:
            last = day  # group consecutive days with identical hours into a range
            while last + 1 < 7 and by_day[last + 1] == by_day[day]:
                last += 1
            if by_day[day]:
                days = WEEKDAY_NAMES[day]
                if last > day:
                    days += "-" + WEEKDAY_NAMES[last]
                hours = ", ".join(
                    f"{_format_time(o, closing=False)}-{_format_time(c, closing=True)}"
                    for o, c in by_day[day]
                )
                clauses.append(f"{days} {hours}")
            day = last + 1
        return "; ".join(clauses)

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly form (e.g. workflow input); inverse of ``from_dict``."""
        return {
            "tz": self.tz_name,
            "spec": self.to_spec(),
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BusinessCalendar:
        try:
            tz, spec = data["tz"], data["spec"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"calendar dict needs 'tz' and 'spec': {data!r}") from exc
        if not isinstance(tz, str):
            raise ValueError(f"calendar 'tz' must be a string, not {tz!r}")
        holidays = data.get("holidays") or ()
        if not isinstance(holidays, (list, tuple, str)):
            raise ValueError(f"calendar 'holidays' must be a list, not {holidays!r}")
        return cls.from_spec(str(spec), tz=tz, holidays=holidays)


def parse_holidays(text: str) -> frozenset[date]:
    """Parse ISO dates separated by commas and/or whitespace (empty text: none)."""
    days: set[date] = set()
    for item in re.split(r"[,\s]+", text.strip()):
        if item:
            try:
                days.add(date.fromisoformat(item))
            except ValueError:
                raise ValueError(f"holiday {item!r} is not an ISO date (YYYY-MM-DD)") from None
    return frozenset(days)


# --- arithmetic -----------------------------------------------------------------------------


def business_time_between(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Business time elapsed from ``start`` to ``end`` (zero if ``end <= start``)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return timedelta(0)
    if cal.always:
        return end - start
    total = timedelta(0)
    for opens_at, closes_at in _open_intervals_from(cal, start):
        if opens_at >= end:
            break
        total += min(closes_at, end) - max(opens_at, start)
    return total


def business_seconds_between(cal: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Business seconds elapsed from ``start`` to ``end`` (0.0 if ``end <= start``)."""
    return business_time_between(cal, start, end).total_seconds()


def add_business_time(cal: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """The earliest instant at which ``amount`` of business time has elapsed since ``start``.

    A zero amount returns ``start`` itself (even when closed); when the amount
    runs out exactly at a closing time, that closing instant is returned.
    """
    start = _utc(start, "start")
    if amount < timedelta(0):
        raise ValueError(f"business time to add must not be negative, got {amount}")
    if not amount:
        return start
    if cal.always:
        return start + amount
    remaining = amount
    for opens_at, closes_at in _open_intervals_from(cal, start):
        opens_at = max(opens_at, start)
        length = closes_at - opens_at
        if remaining <= length:
            return opens_at + remaining
        remaining -= length
    raise AssertionError("unreachable: a validated calendar opens every week")


def add_business_seconds(cal: BusinessCalendar, start: datetime, seconds: float) -> datetime:
    """The earliest instant at which ``seconds`` of business time have elapsed since ``start``.

    ``seconds`` is rounded to whole microseconds; negative values raise ``ValueError``.
    """
    if seconds < 0:
        raise ValueError(f"business seconds to add must not be negative, got {seconds}")
    return add_business_time(cal, start, timedelta(seconds=seconds))


def is_open(cal: BusinessCalendar, instant: datetime) -> bool:
    """Whether ``instant`` is business time (windows are half-open: [opening, closing))."""
    instant = _utc(instant, "instant")
    if cal.always:
        return True
    for opens_at, _closes_at in _open_intervals_from(cal, instant):
        return opens_at <= instant
    raise AssertionError("unreachable: a validated calendar opens every week")


# --- internals ------------------------------------------------------------------------------


def _utc(instant: datetime, name: str) -> datetime:
    if not isinstance(instant, datetime):
        raise ValueError(f"{name} must be a datetime, not {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (got naive {instant.isoformat()})")
    return instant.astimezone(UTC)


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return _ZONE_CLASS(tz_name)  # ZoneInfo caches instances: cheap after the first
    except (KeyError, ValueError, TypeError, OSError):
        raise ValueError(f"unknown time zone {tz_name!r}") from None


def _open_intervals_from(cal: BusinessCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Chronological UTC business intervals that close after ``start`` (unclipped). Endless."""
    zone = _zone(cal.tz_name)
    # Begin a day early: cheap insurance that no window containing ``start`` is skipped.
    day = start.astimezone(zone).date() - _ONE_DAY
    while True:
        for opens_at, closes_at in _intervals_on(cal, zone, day):
            if closes_at > start:
                yield opens_at, closes_at
        day += _ONE_DAY


def _intervals_on(cal: BusinessCalendar, zone: ZoneInfo, day: date) -> Iterator[tuple[datetime, datetime]]:
    if day in cal.holidays:
        return
    weekday = day.weekday()
    for window_day, opening, closing in cal.weekly:
        if window_day != weekday:
            continue
        opens_at = _first_instant_reading(zone, datetime.combine(day, opening))
        closing_day = day + _ONE_DAY if closing == END_OF_DAY else day
        closes_at = _first_instant_reading(zone, datetime.combine(closing_day, closing))
        if opens_at < closes_at:  # empty when the whole window falls in a DST gap
            yield opens_at, closes_at


def _first_instant_reading(zone: ZoneInfo, wall: datetime) -> datetime:
    """The first UTC instant at which the local wall clock reads ``wall`` or later."""
    # fold=0 picks the first occurrence of a repeated (fall-back) wall time.
    candidate = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall:
        return candidate
    # ``wall`` does not exist (spring-forward gap). In a gap, fold=0 reads it with the
    # offset before the change (an instant after the change) and fold=1 with the offset
    # after it (an instant before the change); the clock first reads >= ``wall`` at the
    # change itself, which we find by bisection (gaps are rare, so this is cheap enough).
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = candidate
    while after - before > timedelta(microseconds=1):
        middle = before + (after - before) // 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after


def _seconds_of_day(moment: time, *, closing: bool) -> int:
    if closing and moment == END_OF_DAY:
        return 86400
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _time_of(seconds: int) -> time:
    if seconds == 86400:
        return END_OF_DAY
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _normalise_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    spans: dict[int, list[tuple[int, int]]] = {}
    for window in windows:
        try:
            weekday, opening, closing = window
        except (TypeError, ValueError):
            raise ValueError(f"window {window!r} is not (weekday, opening, closing)") from None
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday!r} must be an int 0 (Monday) .. 6 (Sunday)")
        for moment in (opening, closing):
            if not isinstance(moment, time) or moment.tzinfo is not None or moment.microsecond:
                raise ValueError(f"window time {moment!r} must be a naive time of whole seconds")
        start = _seconds_of_day(opening, closing=False)
        end = _seconds_of_day(closing, closing=True)
        if start >= end:
            raise ValueError(
                f"window {_format_time(opening, closing=False)}-"
                f"{_format_time(closing, closing=True)} on {WEEKDAY_NAMES[weekday]} must close "
                "after it opens (split overnight hours at midnight: 22:00-24:00, 00:00-06:00)"
            )
        spans.setdefault(weekday, []).append((start, end))
    normalised: list[Window] = []
    for weekday in sorted(spans):
        merged: list[list[int]] = []
        for start, end in sorted(spans[weekday]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        normalised.extend((weekday, _time_of(s), _time_of(e)) for s, e in merged)
    return tuple(normalised)


def _coerce_holidays(holidays: Iterable[date | str] | str) -> frozenset[date]:
    if isinstance(holidays, str):
        return parse_holidays(holidays)
    days: set[date] = set()
    for day in holidays:
        if isinstance(day, str):
            days |= parse_holidays(day)
        elif isinstance(day, date) and not isinstance(day, datetime):
            days.add(day)
        else:
            raise ValueError(f"holiday {day!r} is not a date")
    return frozenset(days)


def _parse_clause(clause: str) -> list[Window]:
    match = _CLAUSE.fullmatch(clause)
    if match is None:
        raise ValueError(
            f"cannot read business-hours clause {clause!r}: expected days then hours, "
            "e.g. 'mon-fri 07:00-19:00' or 'sat 08:00-12:00, 13:00-16:00'"
        )
    weekdays = _parse_days(match["days"], clause)
    hours = re.sub(r"\s*-\s*", "-", match["windows"].strip())
    windows: list[Window] = []
    for item in re.split(r"\s*,\s*|\s+", hours):
        window = _WINDOW.fullmatch(item)
        if window is None:
            raise ValueError(f"cannot read opening hours {item!r} in {clause!r} (expected HH:MM-HH:MM)")
        opening = _parse_time((window[1], window[2], window[3]), item, closing=False)
        closing = _parse_time((window[4], window[5], window[6]), item, closing=True)
        windows.extend((weekday, opening, closing) for weekday in weekdays)
    return windows


def _parse_days(text: str, clause: str) -> list[int]:
    weekdays: list[int] = []
    for item in re.sub(r"\s+", "", text).split(","):
        ends = item.split("-")
        try:
            if len(ends) > 2:
                raise KeyError(item)
            start, end = _DAY_INDEX[ends[0]], _DAY_INDEX[ends[-1]]
        except KeyError:
            raise ValueError(
                f"cannot read days {item!r} in {clause!r} (use mon..sun, e.g. 'mon-fri' or 'sat,sun')"
            ) from None
        weekdays.extend((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return weekdays


def _parse_time(parts: tuple[str, str, str | None], item: str, *, closing: bool) -> time:
    hour, minute, second = int(parts[0]), int(parts[1]), int(parts[2] or 0)
    if closing and (hour, minute, second) == (24, 0, 0):
        return END_OF_DAY
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"invalid time in {item!r} (24:00 is allowed only as a closing time)")
    return time(hour, minute, second)


def _format_time(moment: time, *, closing: bool) -> str:
    if closing and moment == END_OF_DAY:
        return "24:00"
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


# The help desk's hours from DESIGN.md; settings may override it via from_spec.
HELP_DESK_CALENDAR_DEFAULT = BusinessCalendar.from_spec(
    "mon-fri 07:00-19:00; sat 08:00-16:00", tz="America/New_York", holidays=()
)


def day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """A calendar day of the location, as UTC instants [start, end)."""
    zone = ZoneInfo(tz_name)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end
