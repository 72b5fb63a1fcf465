"""SLA targets per priority (business seconds) and the setting that names them.

Pure and deterministic like ``domain.sla``, which re-exports these names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PRIORITIES = ("urgent", "high", "normal", "low")

_HOUR = 3600.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": _HOUR}


@dataclass(frozen=True)
class PriorityTargets:
    """Targets of one priority, in business seconds (no next-update target: no such clock)."""

    first_response_seconds: float
    resolution_seconds: float
    next_update_seconds: float | None = None

    def __post_init__(self) -> None:
        for name in ("first_response_seconds", "resolution_seconds", "next_update_seconds"):
            value = getattr(self, name)
            if name == "next_update_seconds" and value is None:
                continue
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True)
class SlaTargets:
    """First-response, resolution and next-update targets per priority (business seconds)."""

    urgent: PriorityTargets
    high: PriorityTargets
    normal: PriorityTargets
    low: PriorityTargets

    def for_priority(self, priority: str) -> PriorityTargets:
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r} (expected one of {PRIORITIES})")
        targets: PriorityTargets = getattr(self, priority)
        return targets

    @classmethod
    def parse(cls, text: str, defaults: SlaTargets | None = None) -> SlaTargets:
        """Parse a setting such as ``"urgent=3600/14400, high=2h/8h"``.

        Each item is ``priority=first_response/resolution[/next_update]``; a
        duration is a number of seconds, or a number with unit ``s``, ``m`` or
        ``h`` (business time). An item without the third duration has no
        next-update clock (so a case started before that clock existed keeps
        the clocks it started with). Priorities left out keep ``defaults``
        (``DEFAULT_SLA_TARGETS``); empty text gives the defaults.
        """
        values = {p: (defaults or DEFAULT_SLA_TARGETS).for_priority(p) for p in PRIORITIES}
        seen: set[str] = set()
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            name, equals, durations = (part.strip() for part in item.partition("="))
            name = name.lower()
            if not equals or name not in PRIORITIES:
                raise ValueError(
                    f"cannot read SLA target {item!r}: expected priority=first/resolution "
                    f"with priority one of {', '.join(PRIORITIES)} (e.g. 'urgent=1h/4h')"
                )
            if name in seen:
                raise ValueError(f"SLA targets name priority {name!r} twice")
            seen.add(name)
            parts = durations.split("/")
            if len(parts) not in (2, 3):
                raise ValueError(
                    f"SLA target {item!r} needs first-response/resolution[/next-update], "
                    f"e.g. '{name}=1h/4h/2h'"
                )
            seconds = [_parse_duration(part, item) for part in parts]
            values[name] = PriorityTargets(*seconds)
        return cls(**values)

    def to_setting(self) -> str:
        """The setting string ``parse`` reads back (seconds)."""
        items = []
        for name in PRIORITIES:
            values = self.for_priority(name)
            first = _format_seconds(values.first_response_seconds)
            resolution = _format_seconds(values.resolution_seconds)
            next_update = values.next_update_seconds
            extra = "" if next_update is None else f"/{_format_seconds(next_update)}"
            items.append(f"{name}={first}/{resolution}{extra}")
        return ",".join(items)


DEFAULT_SLA_TARGETS = SlaTargets(
    urgent=PriorityTargets(1 * _HOUR, 4 * _HOUR, 1 * _HOUR),
    high=PriorityTargets(2 * _HOUR, 8 * _HOUR, 2 * _HOUR),
    normal=PriorityTargets(4 * _HOUR, 24 * _HOUR, 4 * _HOUR),
    low=PriorityTargets(8 * _HOUR, 48 * _HOUR, 8 * _HOUR),
)


def _parse_duration(text: str, item: str) -> float:
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            f"cannot read duration {text.strip()!r} in SLA target {item!r} "
            "(seconds, or a number with unit s, m or h, e.g. '3600' or '1h')"
        )
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))
