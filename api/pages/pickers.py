"""What the pickers and lists show: times grouped by the location's day (the time picker),
phone numbers formatted (phonenumbers) with a tap-to-call address."""

from __future__ import annotations

from datetime import date
from typing import Any

import phonenumbers

from domain.dose_rules import to_local

DEFAULT_REGION = "US"


def times_by_day(rows: list[Any], time_zone: str) -> list[tuple[date, list[Any]]]:
    """Slots (or rows with a .slot, or dicts with a "slot"), soonest first, grouped by the
    location's calendar day."""
    groups: dict[date, list[Any]] = {}
    for row in rows:
        slot = _slot(row)
        groups.setdefault(to_local(slot.start_at, time_zone).date(), []).append(row)
    return sorted(groups.items(), key=lambda item: item[0])


def _slot(row: Any) -> Any:
    if isinstance(row, dict):
        return row.get("slot", row)
    return getattr(row, "slot", row)


def _parsed(number: str | None) -> phonenumbers.PhoneNumber | None:
    if not number or not number.strip():
        return None
    try:
        parsed = phonenumbers.parse(number, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def phone_text(number: str | None) -> str:
    """(919) 555-0142 for a US number, +44 20 7946 0958 for another; as typed when unreadable."""
    parsed = _parsed(number)
    if parsed is None:
        return number or ""
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(parsed) == DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def phone_link(number: str | None) -> str:
    """The tel: address of a phone number ("" when it cannot be read)."""
    parsed = _parsed(number)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.RFC3966) if parsed else ""
