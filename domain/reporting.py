"""Pure pieces of the dashboard and the programme report: age bands, the local days and weeks a
chart covers (as UTC boundaries, so a query can bucket instants exactly across DST changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The bands North Carolina published its vaccination demographics in.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-17", 0, 17),
    ("18-24", 18, 24),
    ("25-49", 25, 49),
    ("50-64", 50, 64),
    ("65-74", 65, 74),
    ("75+", 75, None),
)


def age_band(age: int) -> str:
    """The band an age in whole years falls in."""
    for name, _bottom, top in AGE_BANDS:
        if top is None or age <= top:
            return name
    return AGE_BANDS[-1][0]


DIMENSIONS = ("race", "ethnicity", "age_band", "sex", "county")
UNKNOWN = "unknown"  # the category of a recipient who gave no answer


@dataclass(frozen=True)
class Periods:
    """Consecutive local periods (days or weeks) starting on `starts[0]`; `bounds` are their
    UTC start instants plus the end of the last one (len(starts) + 1 values)."""

    starts: tuple[date, ...]
    bounds: tuple[datetime, ...]

    def __len__(self) -> int:
        return len(self.starts)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


def periods(first: date, count: int, step_days: int, zone: str) -> Periods:
    starts = tuple(first + timedelta(days=step_days * i) for i in range(count))
    bounds = tuple(local_midnight(first + timedelta(days=step_days * i), zone) for i in range(count + 1))
    return Periods(starts=starts, bounds=bounds)


def week_start(day: date) -> date:
    """The Monday of the week a day is in."""
    return day - timedelta(days=day.weekday())


def past_days(today: date, days: int, zone: str) -> Periods:
    """The `days` local days ending with today."""
    return periods(today - timedelta(days=days - 1), days, 1, zone)


def coming_days(today: date, days: int, zone: str) -> Periods:
    return periods(today, days, 1, zone)


def past_weeks(today: date, weeks: int, zone: str) -> Periods:
    """The `weeks` weeks (Monday to Sunday) ending with this one."""
    return periods(week_start(today) - timedelta(weeks=weeks - 1), weeks, 7, zone)


def rate(part: int, whole: int) -> float:
    """part / whole as a percentage with one decimal; 0 when there is no whole."""
    return round(100 * part / whole, 1) if whole else 0.0
