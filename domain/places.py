"""Places from a ZIP code, from the `zipcodes` package's offline data (no network, no hand-typed table)."""

from __future__ import annotations

from functools import lru_cache

import zipcodes


@lru_cache(maxsize=8192)
def county_of_zip(postal_code: str) -> str | None:
    """ "Durham County, NC" for "27701" or "27701-1234"; None when the ZIP code is unknown."""
    five = (postal_code or "").strip()[:5]
    if len(five) != 5 or not five.isdigit():
        return None
    try:
        found = zipcodes.matching(five)  # type: ignore[no-untyped-call]
    except (TypeError, ValueError):
        return None
    if not found or not found[0].get("county"):
        return None
    return f"{found[0]['county']}, {found[0]['state']}"
