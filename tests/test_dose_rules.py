"""Tests for domain.dose_rules: unit tests per rule plus hypothesis properties."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.dose_rules import (
    DEFAULT_PRODUCTS,
    DEFAULT_PRODUCTS_BY_CODE,
    DoseWindow,
    ProductRule,
    RuleViolation,
    check_booking,
    check_documentation,
    check_same_product,
    day_length,
    is_series_complete,
    next_dose_window,
    reminder_instant,
    to_local,
)

DAY = 86400
NY = ZoneInfo("America/New_York")
PFIZER = DEFAULT_PRODUCTS_BY_CODE["pfizer"]
MODERNA = DEFAULT_PRODUCTS_BY_CODE["moderna"]
NOVAVAX = DEFAULT_PRODUCTS_BY_CODE["novavax"]
JANSSEN = DEFAULT_PRODUCTS_BY_CODE["janssen"]
MULTI_DOSE = [p for p in DEFAULT_PRODUCTS if p.doses > 1]
DOSE1 = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
US = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- products


def test_default_products() -> None:
    summary = {(p.code, p.name, p.doses, p.interval_days) for p in DEFAULT_PRODUCTS}
    assert summary == {
        ("pfizer", "Pfizer-BioNTech", 2, 21),
        ("moderna", "Moderna", 2, 28),
        ("novavax", "Novavax", 2, 21),
        ("janssen", "Janssen", 1, 0),
    }
    for p in DEFAULT_PRODUCTS:
        assert p.version == 1
        assert p.recommended_latest_days == 42
        assert p.grace_days == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        PFIZER.doses = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEFAULT_PRODUCTS_BY_CODE["x"] = PFIZER  # type: ignore[index]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"doses": 0, "interval_days": 0},
        {"doses": 2, "interval_days": 0},
        {"doses": 2, "interval_days": 50},  # beyond recommended latest (42)
        {"doses": 2, "interval_days": 21, "grace_days": -1},
        {"doses": 2, "interval_days": 21, "version": 0},
    ],
)
def test_product_rule_validation(kwargs: dict) -> None:
    base = {"code": "x", "name": "X", "version": 1}
    with pytest.raises(ValueError):
        ProductRule(**{**base, **kwargs})


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("rule", "earliest", "grace_start"),
    [
        (PFIZER, utc(2026, 3, 22, 15), utc(2026, 3, 18, 15)),
        (MODERNA, utc(2026, 3, 29, 15), utc(2026, 3, 25, 15)),
        (NOVAVAX, utc(2026, 3, 22, 15), utc(2026, 3, 18, 15)),
    ],
    ids=lambda v: getattr(v, "code", None),
)
def test_dose2_window_per_product(rule: ProductRule, earliest: datetime, grace_start: datetime) -> None:
    w = next_dose_window(rule, DOSE1, DAY)
    assert w == DoseWindow(
        earliest=earliest, recommended_latest=utc(2026, 4, 12, 15), grace_start=grace_start
    )
    assert w.earliest.tzinfo is UTC


def test_window_is_on_the_utc_timeline_across_dst() -> None:
    # Dose 1 on 2026-03-01 10:00 EST; 21 days later crosses the March 8 change.
    dose1_local = datetime(2026, 3, 1, 10, 0, tzinfo=NY)
    w = next_dose_window(PFIZER, dose1_local, DAY)
    assert w.earliest - dose1_local == timedelta(days=21)  # exact elapsed time
    assert w.earliest == utc(2026, 3, 22, 15)
    assert to_local(w.earliest, "America/New_York").hour == 11  # 11:00 EDT


def test_window_scaled_day() -> None:
    w = next_dose_window(PFIZER, DOSE1, 1)
    assert w.earliest == DOSE1 + timedelta(seconds=21)
    assert w.recommended_latest == DOSE1 + timedelta(seconds=42)
    assert w.grace_start == DOSE1 + timedelta(seconds=17)
    assert next_dose_window(MODERNA, DOSE1, 0.5).earliest == DOSE1 + timedelta(seconds=14)


def test_single_dose_product_has_no_next_window() -> None:
    with pytest.raises(RuleViolation) as exc:
        next_dose_window(JANSSEN, DOSE1, DAY)
    assert exc.value.code == "series_complete"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_day_seconds_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError):
        day_length(bad)
    with pytest.raises(ValueError):
        next_dose_window(PFIZER, DOSE1, bad)


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2026, 3, 1, 15)
    with pytest.raises(ValueError):
        next_dose_window(PFIZER, naive, DAY)
    with pytest.raises(ValueError):
        check_booking(PFIZER, 1, naive, None, DAY)
    with pytest.raises(ValueError):
        check_booking(PFIZER, 2, utc(2026, 3, 25), naive, DAY)
    with pytest.raises(ValueError):
        check_documentation(PFIZER, 1, naive, None, DAY)
    with pytest.raises(ValueError):
        reminder_instant(naive, 3600)
    with pytest.raises(ValueError):
        to_local(naive, "America/New_York")


# --------------------------------------------------------------------------- booking


def test_dose1_always_bookable() -> None:
    check_booking(PFIZER, 1, utc(2030, 1, 1), None, DAY)
    check_booking(JANSSEN, 1, utc(2020, 1, 1), None, 1)


def test_booking_inside_window_passes_including_edges() -> None:
    w = next_dose_window(PFIZER, DOSE1, DAY)
    for t in (w.earliest, w.earliest + timedelta(days=3), w.recommended_latest):
        check_booking(PFIZER, 2, t, DOSE1, DAY)
    # Any aware zone works; it is the instant that counts.
    check_booking(PFIZER, 2, w.earliest.astimezone(NY), DOSE1.astimezone(NY), DAY)


def test_booking_too_early_is_violation_without_grace() -> None:
    w = next_dose_window(PFIZER, DOSE1, DAY)
    for t in (w.earliest - US, w.grace_start, DOSE1 + timedelta(days=1)):
        with pytest.raises(RuleViolation) as exc:
            check_booking(PFIZER, 2, t, DOSE1, DAY)
        v = exc.value
        assert v.code == "dose_outside_window"
        assert v.kind == "conflict" and v.is_conflict
        assert "2026-03-22" in v.message and "2026-04-12" in v.message
        assert "Pfizer-BioNTech" in v.message
        assert v.details["too_early"] is True
        assert v.details["earliest"] == w.earliest.isoformat()


def test_booking_too_late_is_violation() -> None:
    w = next_dose_window(MODERNA, DOSE1, DAY)
    with pytest.raises(RuleViolation) as exc:
        check_booking(MODERNA, 2, w.recommended_latest + US, DOSE1, DAY)
    assert exc.value.code == "dose_outside_window"
    assert exc.value.details["too_early"] is False
    assert "2026-03-29" in exc.value.message and "2026-04-12" in exc.value.message


def test_booking_message_uses_instants_for_short_days() -> None:
    with pytest.raises(RuleViolation) as exc:
        check_booking(PFIZER, 2, DOSE1 + timedelta(seconds=5), DOSE1, 1)
    assert "2026-03-01T15:00:21.000Z" in exc.value.message


def test_booking_beyond_series_and_bad_numbers() -> None:
    with pytest.raises(RuleViolation) as exc:
        check_booking(PFIZER, 3, utc(2026, 4, 1), DOSE1, DAY)
    assert exc.value.code == "series_complete"
    with pytest.raises(RuleViolation) as exc:
        check_booking(JANSSEN, 2, utc(2026, 4, 1), DOSE1, DAY)
    assert exc.value.code == "series_complete"
    with pytest.raises(RuleViolation) as exc:
        check_booking(PFIZER, 0, utc(2026, 4, 1), None, DAY)
    assert exc.value.code == "invalid_dose_number" and exc.value.kind == "invalid"
    with pytest.raises(RuleViolation) as exc:
        check_booking(PFIZER, 2, utc(2026, 4, 1), None, DAY)
    assert exc.value.code == "dose_number_mismatch"
    with pytest.raises(RuleViolation) as exc:
        check_booking(PFIZER, 1, utc(2026, 4, 1), DOSE1, DAY)
    assert exc.value.code == "dose_number_mismatch"


# --------------------------------------------------------------------------- documentation


def test_documentation_dose1_and_on_time() -> None:
    assert check_documentation(PFIZER, 1, DOSE1, None, DAY) is None
    assert check_documentation(JANSSEN, 1, DOSE1, None, DAY) is None
    w = next_dose_window(PFIZER, DOSE1, DAY)
    assert check_documentation(PFIZER, 2, w.earliest, DOSE1, DAY) is None
    # After the recommended latest: still a valid dose, no warning (documented choice).
    late = w.recommended_latest + timedelta(days=30)
    assert check_documentation(PFIZER, 2, late, DOSE1, DAY) is None


def test_documentation_four_days_early_accepted_with_warning() -> None:
    w = next_dose_window(PFIZER, DOSE1, DAY)
    warning = check_documentation(PFIZER, 2, w.earliest - timedelta(days=4), DOSE1, DAY)
    assert warning is not None
    assert "4 days" in warning and "grace period" in warning and "2026-03-22" in warning
    one = check_documentation(PFIZER, 2, w.earliest - timedelta(days=1), DOSE1, DAY)
    assert one is not None and "1 day " in one


def test_documentation_five_days_early_refused() -> None:
    w = next_dose_window(PFIZER, DOSE1, DAY)
    for t in (w.earliest - timedelta(days=5), w.grace_start - US):
        with pytest.raises(RuleViolation) as exc:
            check_documentation(PFIZER, 2, t, DOSE1, DAY)
        assert exc.value.code == "dose_too_early"
        assert exc.value.kind == "conflict"
        assert "grace period" in exc.value.message


def test_documentation_consistency() -> None:
    with pytest.raises(RuleViolation) as exc:
        check_documentation(JANSSEN, 2, utc(2026, 4, 1), DOSE1, DAY)
    assert exc.value.code == "series_complete"
    with pytest.raises(RuleViolation) as exc:
        check_documentation(PFIZER, 2, utc(2026, 4, 1), None, DAY)
    assert exc.value.code == "dose_number_mismatch"
    with pytest.raises(RuleViolation) as exc:
        check_documentation(PFIZER, 1, utc(2026, 4, 1), DOSE1, DAY)
    assert exc.value.code == "dose_number_mismatch"
    with pytest.raises(RuleViolation) as exc:
        check_documentation(PFIZER, -1, utc(2026, 4, 1), None, DAY)
    assert exc.value.code == "invalid_dose_number" and exc.value.kind == "invalid"


def test_documentation_never_before_previous_dose() -> None:
    # A rule whose grace is longer than its interval must still not accept a
    # dose at or before the previous one.
    odd = ProductRule("odd", "Odd", 1, doses=2, interval_days=2, grace_days=4)
    with pytest.raises(RuleViolation) as exc:
        check_documentation(odd, 2, DOSE1, DOSE1, DAY)
    assert exc.value.code == "dose_too_early"
    assert check_documentation(odd, 2, DOSE1 + timedelta(days=1), DOSE1, DAY) is not None


# --------------------------------------------------------------------------- product, completion


def test_same_product() -> None:
    check_same_product("pfizer", "pfizer")
    with pytest.raises(RuleViolation) as exc:
        check_same_product("pfizer", "moderna")
    assert exc.value.code == "wrong_product"
    assert "pfizer" in exc.value.message and "moderna" in exc.value.message


def test_series_complete() -> None:
    assert not is_series_complete(JANSSEN, 0)
    assert is_series_complete(JANSSEN, 1)
    assert not is_series_complete(PFIZER, 1)
    assert is_series_complete(PFIZER, 2)
    with pytest.raises(ValueError):
        is_series_complete(PFIZER, -1)


def test_rule_violation_repr_and_str() -> None:
    v = RuleViolation("wrong_product", "nope")
    assert str(v) == "nope" and v.message == "nope" and v.details == {}
    assert "wrong_product" in repr(v)


# --------------------------------------------------------------------------- time helpers


def test_to_local() -> None:
    local = to_local(utc(2026, 7, 1, 16), "America/New_York")
    assert (local.hour, local.utcoffset()) == (12, timedelta(hours=-4))
    assert local == utc(2026, 7, 1, 16)
    with pytest.raises(ValueError):
        to_local(utc(2026, 7, 1), "Not/AZone")


def test_reminder_rejects_negative_lead() -> None:
    with pytest.raises(ValueError):
        reminder_instant(utc(2026, 7, 1), -1)


@pytest.mark.parametrize(
    ("appointment_local", "reminder_local", "wall_hours"),
    [
        # Spring forward (2026-03-08 02:00 EST -> 03:00 EDT): 25 wall-clock hours.
        (datetime(2026, 3, 8, 10, 0, tzinfo=NY), datetime(2026, 3, 7, 9, 0), 25),
        # Fall back (2026-11-01 02:00 EDT -> 01:00 EST): 23 wall-clock hours.
        (datetime(2026, 11, 1, 10, 0, tzinfo=NY), datetime(2026, 10, 31, 11, 0), 23),
        # No change in between: 24.
        (datetime(2026, 6, 1, 10, 0, tzinfo=NY), datetime(2026, 5, 31, 10, 0), 24),
    ],
)
def test_reminder_24h_before_across_dst(
    appointment_local: datetime, reminder_local: datetime, wall_hours: int
) -> None:
    r = reminder_instant(appointment_local, 86400)
    assert r.tzinfo is UTC
    assert (appointment_local - r).total_seconds() == 86400
    local = to_local(r, "America/New_York")
    assert local.replace(tzinfo=None) == reminder_local
    wall = appointment_local.replace(tzinfo=None) - local.replace(tzinfo=None)
    assert wall == timedelta(hours=wall_hours)
    # The trap this avoids: zoneinfo-aware subtraction is wall-clock arithmetic.
    if wall_hours != 24:
        naive_way = appointment_local - timedelta(hours=24)
        elapsed = appointment_local.astimezone(UTC) - naive_way.astimezone(UTC)
        assert elapsed == timedelta(hours=48 - wall_hours)


# --------------------------------------------------------------------------- properties

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [UTC, NY, ZoneInfo("Europe/London"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham")]

dose1_instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.sampled_from(ZONES),
)
day_lengths = st.sampled_from([86400, 1, 0.5, 2])
multi_dose = st.sampled_from(MULTI_DOSE)


def _us(delta: timedelta) -> int:
    return delta // US


@PROPS
@given(rule=multi_dose, dose1=dose1_instants, day=day_lengths, data=st.data())
def test_prop_window_arithmetic_is_exact(
    rule: ProductRule, dose1: datetime, day: float, data: st.DataObject
) -> None:
    w = next_dose_window(rule, dose1, day)
    assert w.earliest - dose1 == timedelta(seconds=rule.interval_days * day)
    assert w.recommended_latest - dose1 == timedelta(seconds=rule.recommended_latest_days * day)
    assert w.earliest - w.grace_start == timedelta(seconds=rule.grace_days * day)
    assert dose1 < w.grace_start < w.earliest <= w.recommended_latest


@PROPS
@given(rule=multi_dose, dose1=dose1_instants, day=day_lengths, data=st.data())
def test_prop_booking_inside_passes(
    rule: ProductRule, dose1: datetime, day: float, data: st.DataObject
) -> None:
    w = next_dose_window(rule, dose1, day)
    k = data.draw(st.integers(0, _us(w.recommended_latest - w.earliest)), label="offset_us")
    zone = data.draw(st.sampled_from(ZONES), label="slot_zone")
    slot = (w.earliest + k * US).astimezone(zone)
    check_booking(rule, 2, slot, dose1, day)


@PROPS
@given(rule=multi_dose, dose1=dose1_instants, day=day_lengths, data=st.data())
def test_prop_booking_outside_fails(
    rule: ProductRule, dose1: datetime, day: float, data: st.DataObject
) -> None:
    w = next_dose_window(rule, dose1, day)
    k = data.draw(st.integers(1, _us(timedelta(seconds=60 * day))), label="outside_us")
    early = data.draw(st.booleans(), label="early")
    slot = w.earliest - k * US if early else w.recommended_latest + k * US
    with pytest.raises(RuleViolation) as exc:
        check_booking(rule, 2, slot, dose1, day)
    assert exc.value.code == "dose_outside_window"
    assert exc.value.details["too_early"] is early


@PROPS
@given(rule=multi_dose, dose1=dose1_instants, day=day_lengths, data=st.data())
def test_prop_documentation(rule: ProductRule, dose1: datetime, day: float, data: st.DataObject) -> None:
    w = next_dose_window(rule, dose1, day)
    span = _us(timedelta(seconds=(rule.interval_days - rule.grace_days) * day)) - 1
    k = data.draw(st.integers(-span, _us(timedelta(seconds=100 * day))), label="offset_us")
    given_at = w.grace_start + k * US
    if given_at < w.grace_start:
        with pytest.raises(RuleViolation) as exc:
            check_documentation(rule, 2, given_at, dose1, day)
        assert exc.value.code == "dose_too_early" and exc.value.is_conflict
    else:
        warning = check_documentation(rule, 2, given_at, dose1, day)
        assert (warning is not None) == (w.grace_start <= given_at < w.earliest)


SPRING = utc(2026, 3, 8, 7)  # 02:00 EST
FALL = utc(2026, 11, 1, 6)  # 02:00 EDT


@PROPS
@given(
    transition=st.sampled_from([SPRING, FALL]),
    offset_us=st.integers(-_us(timedelta(days=2)), _us(timedelta(days=3))),
    zone_name=st.sampled_from(["America/New_York", "UTC", "Europe/London"]),
)
def test_prop_reminder_24h_on_utc_timeline(transition: datetime, offset_us: int, zone_name: str) -> None:
    appointment = to_local(transition + offset_us * US, zone_name)
    r = reminder_instant(appointment, 86400)
    assert appointment - r == timedelta(seconds=86400)
    a_ny, r_ny = to_local(appointment, "America/New_York"), to_local(r, "America/New_York")
    wall = a_ny.replace(tzinfo=None) - r_ny.replace(tzinfo=None)
    straddles = r < transition <= appointment
    if not straddles:
        assert wall == timedelta(hours=24)
    elif transition == SPRING:
        assert wall == timedelta(hours=25)
    else:
        assert wall == timedelta(hours=23)
    assert wall == timedelta(hours=24) + (a_ny.utcoffset() - r_ny.utcoffset())
