"""Business-hours arithmetic: concrete cases, DST edges, and a brute-force oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.business_hours import (
    END_OF_DAY,
    HELP_DESK_CALENDAR_DEFAULT,
    BusinessCalendar,
    add_business_seconds,
    add_business_time,
    business_seconds_between,
    business_time_between,
    is_open,
    parse_holidays,
)

NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0
DESK = HELP_DESK_CALENDAR_DEFAULT


def ny(*args: int) -> datetime:
    """An instant given in New York wall time (fold=0 for repeated times)."""
    return datetime(*args, tzinfo=NEW_YORK)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def calendar(spec: str, holidays: tuple[date, ...] = ()) -> BusinessCalendar:
    return BusinessCalendar.from_spec(spec, tz="America/New_York", holidays=holidays)


# --- concrete cases on the help desk's calendar --------------------------------------------


def test_friday_evening_plus_one_hour_is_saturday_morning() -> None:
    result = add_business_seconds(DESK, ny(2026, 1, 9, 18, 30), HOUR)
    assert result == ny(2026, 1, 10, 8, 30)
    assert result.tzinfo is UTC


def test_saturday_afternoon_plus_one_hour_is_monday_morning() -> None:
    assert add_business_seconds(DESK, ny(2026, 1, 10, 15, 30), HOUR) == ny(2026, 1, 12, 7, 30)


def test_a_week_of_the_help_desk_is_68_hours() -> None:
    start = ny(2026, 1, 12)  # a Monday
    assert business_seconds_between(DESK, start, start + timedelta(days=7)) == 68 * HOUR


def test_time_running_out_at_closing_returns_the_closing_instant() -> None:
    assert add_business_seconds(DESK, ny(2026, 1, 9, 18), HOUR) == ny(2026, 1, 9, 19)


def test_zero_seconds_returns_start_even_when_closed() -> None:
    sunday = ny(2026, 1, 11, 12)
    assert add_business_seconds(DESK, sunday, 0) == sunday


def test_adding_from_a_closed_instant_starts_at_the_next_opening() -> None:
    assert add_business_seconds(DESK, ny(2026, 1, 11, 12), 60) == ny(2026, 1, 12, 7, 1)


def test_between_is_zero_for_empty_or_reversed_spans_and_when_closed() -> None:
    assert business_seconds_between(DESK, ny(2026, 1, 12, 9), ny(2026, 1, 12, 9)) == 0
    assert business_seconds_between(DESK, ny(2026, 1, 12, 10), ny(2026, 1, 12, 9)) == 0
    assert business_seconds_between(DESK, ny(2026, 1, 10, 16), ny(2026, 1, 12, 7)) == 0


def test_windows_are_half_open() -> None:
    assert not is_open(DESK, ny(2026, 1, 12, 6, 59, 59))
    assert is_open(DESK, ny(2026, 1, 12, 7))
    assert is_open(DESK, ny(2026, 1, 12, 18, 59, 59))
    assert not is_open(DESK, ny(2026, 1, 12, 19))
    assert not is_open(DESK, ny(2026, 1, 11, 12))  # Sunday


def test_holidays_are_closed_all_day() -> None:
    desk = calendar("mon-fri 07:00-19:00; sat 08:00-16:00", holidays=(date(2026, 1, 12),))
    assert not is_open(desk, ny(2026, 1, 12, 9))
    assert add_business_seconds(desk, ny(2026, 1, 10, 15, 30), HOUR) == ny(2026, 1, 13, 7, 30)
    assert business_seconds_between(desk, ny(2026, 1, 12), ny(2026, 1, 13)) == 0


def test_instants_in_any_zone_are_accepted_and_results_are_utc() -> None:
    start = ny(2026, 1, 9, 18, 30).astimezone(ZoneInfo("Asia/Tokyo"))
    result = add_business_seconds(DESK, start, HOUR)
    assert result == ny(2026, 1, 10, 8, 30) and result.tzinfo is UTC


def test_fractional_seconds_are_kept_to_the_microsecond() -> None:
    start = ny(2026, 1, 12, 9)
    result = add_business_seconds(DESK, start, 1.5)
    assert result == start + timedelta(seconds=1.5)
    assert business_seconds_between(DESK, start, result) == 1.5


def test_naive_instants_and_negative_amounts_are_rejected() -> None:
    naive = datetime(2026, 1, 12, 9)
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(DESK, naive, ny(2026, 1, 13))
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(DESK, ny(2026, 1, 13), naive)
    with pytest.raises(ValueError, match="aware"):
        add_business_seconds(DESK, naive, 60)
    with pytest.raises(ValueError, match="aware"):
        is_open(DESK, naive)
    with pytest.raises(ValueError, match="negative"):
        add_business_seconds(DESK, ny(2026, 1, 12), -1)


def test_a_year_long_span_is_counted_and_walked_back() -> None:
    desk = calendar(
        "mon-fri 07:00-12:00, 13:00-19:00; sat 08:00-16:00",
        holidays=(date(2026, 7, 3), date(2026, 12, 25)),
    )
    year = business_seconds_between(desk, utc(2026, 1, 1), utc(2027, 1, 1))
    assert add_business_seconds(desk, utc(2026, 1, 1), year) <= utc(2027, 1, 1)
    # 261 weekdays and 52 Saturdays in 2026, minus two holidays on Fridays.
    assert year == (259 * 11 + 52 * 8) * HOUR


# --- daylight-saving changes (America/New_York, 2026-03-08 and 2026-11-01) -----------------


def test_desk_weekend_across_spring_forward() -> None:
    # Sat Mar 7 is EST, Mon Mar 9 is EDT: local opening hours stay local.
    assert add_business_seconds(DESK, ny(2026, 3, 7, 15, 30), HOUR) == ny(2026, 3, 9, 7, 30)
    assert ny(2026, 3, 9, 7, 30) == utc(2026, 3, 9, 11, 30)
    assert business_seconds_between(DESK, ny(2026, 3, 6, 18), ny(2026, 3, 9, 8)) == 10 * HOUR


def test_desk_weekend_across_fall_back() -> None:
    assert add_business_seconds(DESK, ny(2026, 10, 31, 15, 30), HOUR) == ny(2026, 11, 2, 7, 30)
    assert ny(2026, 11, 2, 7, 30) == utc(2026, 11, 2, 12, 30)
    assert business_seconds_between(DESK, ny(2026, 10, 30, 18), ny(2026, 11, 2, 8)) == 10 * HOUR


def test_round_the_clock_days_are_23_and_25_hours_long() -> None:
    all_day = calendar("mon-sun 00:00-24:00")
    assert business_seconds_between(all_day, ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * HOUR
    assert business_seconds_between(all_day, ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * HOUR
    weekends = calendar("sat-sun 00:00-24:00")
    assert add_business_seconds(weekends, ny(2026, 3, 8), 23 * HOUR) == ny(2026, 3, 9)
    assert add_business_seconds(weekends, ny(2026, 3, 8), 23 * HOUR + 1) == ny(2026, 3, 14, 0, 0, 1)


def test_window_spanning_the_change_lasts_its_real_duration() -> None:
    night = calendar("sun 01:00-03:00")
    assert business_seconds_between(night, ny(2026, 3, 8), ny(2026, 3, 9)) == 1 * HOUR
    assert business_seconds_between(night, ny(2026, 11, 1), ny(2026, 11, 2)) == 3 * HOUR
    # The repeated hour counts: 01:30 EST (the second 01:30) is open.
    assert is_open(night, ny(2026, 11, 1, 1, 30).replace(fold=1))


def test_opening_in_the_spring_gap_opens_at_the_transition() -> None:
    gap = calendar("sun 02:30-04:00")
    transition = utc(2026, 3, 8, 7)  # 02:00 EST becomes 03:00 EDT
    assert not is_open(gap, transition - timedelta(microseconds=1))
    assert is_open(gap, transition)
    assert business_seconds_between(gap, ny(2026, 3, 8), ny(2026, 3, 9)) == 1 * HOUR
    assert add_business_seconds(gap, ny(2026, 3, 7), 60) == transition + timedelta(minutes=1)
    # Entirely inside the gap: never open that day.
    assert business_seconds_between(calendar("sun 02:00-02:45"), ny(2026, 3, 8), ny(2026, 3, 9)) == 0


def test_closing_at_a_repeated_time_closes_at_its_first_occurrence() -> None:
    early = calendar("sun 00:00-01:30")
    first_0130 = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert business_seconds_between(early, ny(2026, 11, 1), ny(2026, 11, 2)) == 1.5 * HOUR
    assert not is_open(early, first_0130)
    assert not is_open(early, ny(2026, 11, 1, 1, 15).replace(fold=1))  # 01:15 EST: no reopening


def test_opening_at_a_repeated_time_opens_at_its_first_occurrence() -> None:
    late = calendar("sun 01:30-02:30")
    assert business_seconds_between(late, ny(2026, 11, 1), ny(2026, 11, 2)) == 2 * HOUR
    assert is_open(late, utc(2026, 11, 1, 5, 30))


# --- specs and serialisation ----------------------------------------------------------------


def test_default_calendar_matches_the_design() -> None:
    assert DESK.tz_name == "America/New_York"
    assert DESK.to_spec() == "mon-fri 07:00-19:00; sat 08:00-16:00"
    assert DESK.weekly[0] == (0, time(7), time(19))
    assert DESK.weekly[-1] == (5, time(8), time(16))
    assert DESK.holidays == frozenset()


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("Mon-Fri 07:00-19:00; Sat 08:00-16:00;", "mon-fri 07:00-19:00; sat 08:00-16:00"),
        (
            "mon,wed,fri 9:00 - 12:00, 13:00-17:00",
            "mon 09:00-12:00, 13:00-17:00; wed 09:00-12:00, 13:00-17:00; fri 09:00-12:00, 13:00-17:00",
        ),
        ("fri-mon 10:00-11:00", "mon 10:00-11:00; fri-sun 10:00-11:00"),
        ("monday 08:00-10:00 09:00-12:00; monday 12:00-13:00", "mon 08:00-13:00"),
        ("sun 22:00-24:00", "sun 22:00-24:00"),
        ("tue 08:00:30-09:00", "tue 08:00:30-09:00"),
        ("  ALWAYS ", "always"),
    ],
)
def test_spec_parsing_normalises(spec: str, canonical: str) -> None:
    parsed = BusinessCalendar.from_spec(spec, tz="America/New_York")
    assert parsed.to_spec() == canonical
    assert BusinessCalendar.from_spec(canonical, tz="America/New_York") == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no opening hours"),
        (";", "no opening hours"),
        ("mon-fri", "cannot read business-hours clause"),
        ("07:00-19:00", "cannot read business-hours clause"),
        ("mon-fry 07:00-19:00", "cannot read days"),
        ("mon- 07:00-19:00", "cannot read days"),
        ("mon-tue-wed 07:00-19:00", "cannot read days"),
        ("mon 07:00", "cannot read opening hours"),
        ("mon 7-19", "cannot read opening hours"),
        ("mon 19:00-07:00", "must close after it opens"),
        ("mon 07:00-07:00", "must close after it opens"),
        ("mon 24:00-24:00", "24:00 is allowed only as a closing time"),
        ("mon 07:00-25:00", "invalid time"),
        ("mon 07:60-08:00", "invalid time"),
    ],
)
def test_malformed_specs_raise_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_spec(spec, tz="America/New_York")


def test_bad_zones_and_holidays_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessCalendar.from_spec("mon 07:00-19:00", tz="Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="unknown time zone"):
        BusinessCalendar.from_spec("mon 07:00-19:00", tz="America")
    with pytest.raises(ValueError, match="ISO date"):
        BusinessCalendar.from_spec("mon 07:00-19:00", tz="UTC", holidays="2026-13-01")
    with pytest.raises(ValueError, match="not a date"):
        BusinessCalendar.from_spec("mon 07:00-19:00", tz="UTC", holidays=[datetime(2026, 1, 1)])
    with pytest.raises(ValueError, match="always"):
        BusinessCalendar.from_spec("always", tz="UTC", holidays="2026-01-01")
    with pytest.raises(ValueError, match="at least one"):
        BusinessCalendar(tz_name="UTC")
    with pytest.raises(ValueError, match="weekday"):
        BusinessCalendar(tz_name="UTC", weekly=((7, time(7), time(8)),))


def test_holidays_from_strings_and_dates() -> None:
    assert parse_holidays(" 2026-01-01, 2026-07-03\n2026-12-25 ") == {
        date(2026, 1, 1),
        date(2026, 7, 3),
        date(2026, 12, 25),
    }
    assert parse_holidays("") == frozenset()
    mixed = BusinessCalendar.from_spec("mon 07:00-19:00", tz="UTC", holidays=[date(2026, 1, 1), "2026-07-03"])
    assert mixed.holidays == {date(2026, 1, 1), date(2026, 7, 3)}


def test_dict_form_round_trips() -> None:
    desk = calendar("mon-fri 07:00-19:00; sat 08:00-16:00", holidays=(date(2026, 12, 25),))
    data = desk.to_dict()
    assert data == {
        "tz": "America/New_York",
        "spec": "mon-fri 07:00-19:00; sat 08:00-16:00",
        "holidays": ["2026-12-25"],
    }
    assert BusinessCalendar.from_dict(data) == desk
    always = BusinessCalendar.always_open("Europe/Paris")
    assert BusinessCalendar.from_dict(always.to_dict()) == always
    with pytest.raises(ValueError, match="needs 'tz' and 'spec'"):
        BusinessCalendar.from_dict({"spec": "always"})


def test_always_open_counts_every_instant() -> None:
    always = BusinessCalendar.always_open()
    start = utc(2026, 3, 8, 6, 59, 59)
    assert is_open(always, start)
    assert add_business_seconds(always, start, 5) == start + timedelta(seconds=5)
    assert business_seconds_between(always, start, start + timedelta(days=40)) == 40 * 86400


def test_calendars_are_hashable_values() -> None:
    assert hash(DESK) == hash(calendar("sat 08:00-16:00; mon-fri 07:00-19:00"))
    assert DESK == calendar("sat 08:00-16:00; mon-fri 07:00-19:00")


# --- property tests against a minute-by-minute oracle ---------------------------------------

# Local dates of the 2026 daylight-saving changes per zone (Lord Howe shifts by half an hour).
CHANGE_DAYS = {
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/Berlin": (date(2026, 3, 29), date(2026, 10, 25)),
    "Australia/Lord_Howe": (date(2026, 4, 5), date(2026, 10, 4)),
}
MINUTE = timedelta(minutes=1)
# Window edges on a half-hour grid, weighted towards the 01:00-03:00 band where clocks change.
EDGE_MINUTES = st.one_of(st.integers(0, 48).map(lambda i: i * 30), st.sampled_from([60, 90, 120, 150, 180]))


def _time_of_minute(minute: int) -> time:
    return END_OF_DAY if minute == 1440 else time(minute // 60, minute % 60)


@st.composite
def scenarios(draw: st.DrawFn, max_span_days: int = 21) -> tuple[BusinessCalendar, datetime, datetime]:
    """A random calendar and a minute-aligned span near a daylight-saving change.

    Short spans (a few days) start the day before a change, so every example
    crosses it; long spans start up to two weeks before one.
    """
    tz = draw(st.sampled_from(sorted(CHANGE_DAYS)))
    change = datetime.combine(draw(st.sampled_from(CHANGE_DAYS[tz])), time(), ZoneInfo(tz))
    lead_days = 1 if max_span_days <= 3 else 14
    start = change.astimezone(UTC) - MINUTE * draw(st.integers(0, lead_days * 1440))
    end = start + MINUTE * draw(st.integers(0, max_span_days * 1440))
    weekly = []
    same_hours_every_day = draw(st.booleans())  # so the change day gets windows often
    for weekday in range(7):
        if weekday == 0 or not same_hours_every_day:
            edges = sorted(draw(st.sets(EDGE_MINUTES, max_size=4)))
        weekly += [
            (weekday, time(a // 60, a % 60), _time_of_minute(b))
            for a, b in zip(edges[::2], edges[1::2], strict=False)
        ]
    assume(weekly)
    first_day = start.date() - timedelta(days=1)
    holiday_offsets = draw(st.sets(st.integers(0, max_span_days + 2), max_size=4))
    cal = BusinessCalendar(
        tz_name=tz,
        weekly=tuple(weekly),
        holidays=frozenset(first_day + timedelta(days=d) for d in holiday_offsets),
    )
    return cal, start, end


def oracle_open_minutes(cal: BusinessCalendar, start: datetime, end: datetime) -> list[datetime]:
    """Start instants of the open minutes in [start, end), one minute at a time.

    Independent of the implementation's DST handling: a window [opening, closing)
    of date D is open while the highest wall-clock reading seen so far lies in
    [D opening, D closing) -- i.e. from the first moment the clock reaches the
    opening time until the first moment it reaches the closing time. Works in
    integer minutes (wall minute = UTC minute + offset) to stay fast.
    """
    zone = ZoneInfo(cal.tz_name)
    open_at = [[False] * 1440 for _ in range(7)]  # [weekday][minute of day]
    for weekday, opening, closing in cal.weekly:
        close = 1440 if closing == END_OF_DAY else closing.hour * 60 + closing.minute
        for minute in range(opening.hour * 60 + opening.minute, close):
            open_at[weekday][minute] = True
    epoch_day = date(1970, 1, 1).toordinal()
    holidays = {day.toordinal() - epoch_day for day in cal.holidays}

    def offset_minutes(utc_minute: int) -> int:
        local = datetime.fromtimestamp(utc_minute * 60, zone)
        return int(local.utcoffset().total_seconds()) // 60

    first, last = int(start.timestamp()) // 60, int(end.timestamp()) // 60
    open_minutes = []
    highest = None
    block_offset: dict[int, int | None] = {}
    for utc_minute in range(first - 180, last):  # warm up the high-water mark past a fall-back
        block = utc_minute // 30  # offsets are constant across most half-hour blocks
        if block not in block_offset:
            edges = {offset_minutes(block * 30), offset_minutes(block * 30 + 29)}
            block_offset[block] = edges.pop() if len(edges) == 1 else None
        offset = block_offset[block]
        wall = utc_minute + (offset if offset is not None else offset_minutes(utc_minute))
        highest = wall if highest is None or wall > highest else highest
        day, minute = divmod(highest, 1440)
        if utc_minute >= first and day not in holidays and open_at[(day + 3) % 7][minute]:
            open_minutes.append(datetime.fromtimestamp(utc_minute * 60, UTC))  # 1970-01-01: Thu
    return open_minutes


@settings(max_examples=300, deadline=None)
@given(scenarios(max_span_days=3), st.floats(0, 1))
def test_change_weekends_match_the_minute_oracle(
    scenario: tuple[BusinessCalendar, datetime, datetime], fraction: float
) -> None:
    check_against_oracle(*scenario, fraction)


@settings(max_examples=60, deadline=None)
@given(scenarios(max_span_days=21), st.floats(0, 1))
def test_three_week_spans_match_the_minute_oracle(
    scenario: tuple[BusinessCalendar, datetime, datetime], fraction: float
) -> None:
    check_against_oracle(*scenario, fraction)


def check_against_oracle(cal: BusinessCalendar, start: datetime, end: datetime, fraction: float) -> None:
    extended = oracle_open_minutes(cal, start, end + MINUTE)  # one more, to probe is_open(end)
    oracle_open = set(extended)
    open_minutes = [instant for instant in extended if instant < end]

    assert business_time_between(cal, start, end) == MINUTE * len(open_minutes)
    span_minutes = (end - start) // MINUTE
    probes = [start + MINUTE * (span_minutes * k // 7) for k in range(8)]
    probes += open_minutes[:: 1 + len(open_minutes) // 7]
    for instant in probes:
        assert is_open(cal, instant) == (instant in oracle_open)

    count = round(fraction * len(open_minutes))
    expected = open_minutes[count - 1] + MINUTE if count else start
    assert add_business_time(cal, start, MINUTE * count) == expected
    if count:  # part-way through the last minute
        half = MINUTE * count - timedelta(seconds=30)
        assert add_business_time(cal, start, half) == open_minutes[count - 1] + timedelta(seconds=30)


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(0, 100 * 3600 * 10**6), st.integers(0, 10**6))
def test_add_and_between_are_consistent(
    scenario: tuple[BusinessCalendar, datetime, datetime], amount_us: int, jitter_us: int
) -> None:
    cal, start, end = scenario
    start += timedelta(microseconds=jitter_us)  # not minute-aligned
    end += timedelta(microseconds=jitter_us)
    amount = timedelta(microseconds=amount_us)  # up to 100 hours of business time

    reached = add_business_time(cal, start, amount)
    assert reached >= start
    assert business_time_between(cal, start, reached) == amount
    # Earliest: just before it, less has elapsed.
    if amount:
        earlier = reached - timedelta(microseconds=1)
        assert business_time_between(cal, start, earlier) < amount

    elapsed = business_time_between(cal, start, end)
    back = add_business_time(cal, start, elapsed)
    assert back <= end
    assert business_time_between(cal, back, end) == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_spec_round_trips(scenario: tuple[BusinessCalendar, datetime, datetime]) -> None:
    cal = scenario[0]
    assert BusinessCalendar.from_spec(cal.to_spec(), tz=cal.tz_name, holidays=cal.holidays) == cal
    assert BusinessCalendar.from_dict(cal.to_dict()) == cal
