"""The pure pieces of the reports: counties from ZIP codes, age bands, and local days and weeks
as UTC boundaries across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.places import county_of_zip
from domain.reporting import age_band, past_days, past_weeks, rate, week_start


def test_a_zip_code_gives_its_county_from_the_offline_data():
    assert county_of_zip("27701") == "Durham County, NC"
    assert county_of_zip(" 27514-1234 ") == "Orange County, NC"
    assert county_of_zip("") is None and county_of_zip("2770") is None and county_of_zip("ABCDE") is None
    assert county_of_zip("00000") is None


def test_ages_fall_into_the_published_bands():
    assert [age_band(a) for a in (0, 17, 18, 24, 25, 49, 50, 64, 65, 74, 75, 103)] == [
        "0-17",
        "0-17",
        "18-24",
        "18-24",
        "25-49",
        "25-49",
        "50-64",
        "50-64",
        "65-74",
        "65-74",
        "75+",
        "75+",
    ]


def test_local_days_and_weeks_are_exact_across_a_daylight_saving_change():
    # 1 Nov 2026: New York falls back from UTC-4 to UTC-5, so that local day is 25 hours long.
    days = past_days(date(2026, 11, 2), 3, "America/New_York")
    assert days.starts == (date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2))
    assert days.bounds[0] == datetime(2026, 10, 31, 4, tzinfo=UTC)
    assert days.bounds[2] - days.bounds[1] == datetime(2026, 11, 2, 5, tzinfo=UTC) - datetime(
        2026, 11, 1, 4, tzinfo=UTC
    )
    weeks = past_weeks(date(2026, 11, 4), 2, "America/New_York")
    assert weeks.starts == (date(2026, 10, 26), date(2026, 11, 2)) and week_start(date(2026, 11, 8)) == date(
        2026, 11, 2
    )
    assert (weeks.bounds[1] - weeks.bounds[0]).total_seconds() == 7 * 86400 + 3600
    assert rate(1, 3) == 33.3 and rate(0, 0) == 0.0
