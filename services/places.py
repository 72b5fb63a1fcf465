"""Where a finder search is: a ZIP code or a city ("Durham" or "Durham, NC") as a point, from the
ZIP centroids that the `zipcodes` package ships offline; and how far a location is from it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import zipcodes

from domain.recipients import fold

EARTH_RADIUS_MILES = 3958.8
ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Point], dict[str, list[tuple[str, Point]]]]:
    """Every ZIP's centroid, and each city's ZIPs (with their state) by its folded name."""
    by_zip: dict[str, Point] = {}
    by_city: dict[str, list[tuple[str, Point]]] = {}
    for row in zipcodes.list_all():  # type: ignore[no-untyped-call]
        if not row.get("lat") or not row.get("long"):
            continue
        point = Point(float(row["lat"]), float(row["long"]))
        by_zip[row["zip_code"]] = point
        by_city.setdefault(fold(row["city"]), []).append((row["state"], point))
    return by_zip, by_city


def warm() -> None:
    _index()


def zip_point(code: str) -> Point | None:
    return _index()[0].get(code[:5])


def search_point(query: str) -> Point | None:
    """A ZIP code's centroid, or the middle of a city's ZIP centroids; None when unknown."""
    text = query.strip()
    found = ZIP.search(text)
    if found:
        return zip_point(found.group(1))
    city, _, state = text.partition(",")
    places = _index()[1].get(fold(city), [])
    state = state.strip().upper()
    if state:
        places = [p for p in places if p[0] == state]
    if not places:
        return None
    return Point(
        sum(p.latitude for _s, p in places) / len(places), sum(p.longitude for _s, p in places) / len(places)
    )


def address_point(address: str) -> Point | None:
    """A location's point: the centroid of the last ZIP code in its address."""
    codes = ZIP.findall(address or "")
    return zip_point(codes[-1]) if codes else None


def miles_between(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(h))
