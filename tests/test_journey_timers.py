"""What a journey waits for next (domain/journey_timers.py): unit and property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from domain.dose_rules import DEFAULT_PRODUCTS_BY_CODE, ProductRule
from domain.journey_timers import (
    DOSE_DUE,
    MISSED,
    OVERDUE,
    REMINDER,
    TimedAppointment,
    TimedDose,
    TimerInputs,
    next_timer,
    pending_timers,
)

PFIZER = DEFAULT_PRODUCTS_BY_CODE["pfizer"]
JANSSEN = DEFAULT_PRODUCTS_BY_CODE["janssen"]
DAY = 86400.0
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def state(**overrides) -> TimerInputs:
    values = dict(
        rule=PFIZER,
        doses=(),
        appointment=None,
        day_seconds=DAY,
        reminder_lead_seconds=DAY,
        done=frozenset(),
        removals=0,
    )
    values.update(overrides)
    return TimerInputs(**values)


def booked(
    start: datetime, *, status: str = "booked", sequence: int = 0, minutes: int = 15
) -> TimedAppointment:
    return TimedAppointment(7, start, start + timedelta(minutes=minutes), status, sequence)


def test_a_new_journey_without_doses_or_appointment_waits_for_nothing():
    assert pending_timers(state(), NOW) == []
    assert next_timer(state(rule=None), NOW) is None


def test_a_booked_appointment_waits_for_its_reminder_then_its_end():
    start = NOW + timedelta(days=3)
    timers = pending_timers(state(appointment=booked(start)), NOW)
    assert [(t.event, t.at) for t in timers] == [
        (REMINDER, start - timedelta(days=1)),
        (MISSED, start + timedelta(minutes=15)),
    ]
    assert timers[0].mark == "reminder:a7.0"


def test_the_reminder_across_the_spring_forward_change_is_24_real_hours_before():
    # 09:00 New York on Sunday 8 March 2026: clocks went forward at 02:00 that night.
    start = datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK)
    timer = next_timer(state(appointment=booked(start.astimezone(UTC))), NOW)
    assert timer is not None and timer.event == REMINDER
    assert (start.astimezone(UTC) - timer.at) == timedelta(hours=24)
    assert timer.at.astimezone(NEW_YORK).hour == 8  # the wall clock showed 08:00 on Saturday


def test_a_reminder_that_would_arrive_after_the_start_is_dropped_and_one_sent_is_not_repeated():
    start = NOW + timedelta(minutes=5)
    late = pending_timers(state(appointment=booked(start)), start + timedelta(seconds=1))
    assert [t.event for t in late] == [MISSED]
    sent = pending_timers(state(appointment=booked(start), done=frozenset({"reminder:a7.0"})), NOW)
    assert [t.event for t in sent] == [MISSED]
    # a reschedule (higher sequence) is a new occurrence: reminded again
    moved = pending_timers(
        state(appointment=booked(start, sequence=1), done=frozenset({"reminder:a7.0"})), NOW
    )
    assert [t.event for t in moved] == [REMINDER, MISSED]


def test_a_checked_in_appointment_has_no_timers_and_holds_back_the_due_notice():
    dose1 = TimedDose(1, 1, NOW - timedelta(days=30))
    inputs = state(doses=(dose1,), appointment=booked(NOW + timedelta(hours=1), status="checked_in"))
    assert pending_timers(inputs, NOW) == []


def test_after_dose_one_the_next_dose_is_due_at_the_interval_and_overdue_at_the_recommended_latest():
    given_at = NOW - timedelta(days=1)
    timers = pending_timers(state(doses=(TimedDose(11, 1, given_at),)), NOW)
    assert [(t.event, t.at, t.dose_number) for t in timers] == [
        (DOSE_DUE, given_at + timedelta(days=21), 2),
        (OVERDUE, given_at + timedelta(days=42), 2),
    ]
    assert [t.mark for t in timers] == ["dose_due:d11.0", "overdue:d11.0"]


def test_a_removal_announces_the_due_dose_afresh():
    given_at = NOW - timedelta(days=25)
    done = frozenset({"dose_due:d11.0"})
    before = pending_timers(state(doses=(TimedDose(11, 1, given_at),), done=done), NOW)
    assert [t.event for t in before] == [OVERDUE]
    after = pending_timers(state(doses=(TimedDose(11, 1, given_at),), done=done, removals=1), NOW)
    assert [t.mark for t in after] == ["dose_due:d11.1", "overdue:d11.1"]
    assert after[0].at < NOW  # already open: due at once


def test_a_complete_series_waits_for_nothing():
    assert pending_timers(state(rule=JANSSEN, doses=(TimedDose(1, 1, NOW),)), NOW) == []
    two = (TimedDose(1, 1, NOW - timedelta(days=21)), TimedDose(2, 2, NOW))
    assert pending_timers(state(doses=two), NOW) == []


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
rules = st.builds(
    lambda interval, extra, grace: ProductRule(
        code="p",
        name="P",
        version=1,
        doses=2,
        interval_days=interval,
        recommended_latest_days=interval + extra,
        grace_days=grace,
    ),
    st.integers(1, 60),
    st.integers(0, 60),
    st.integers(0, 7),
)


@given(rule=rules, given_at=instants, day=st.sampled_from([1.0, 2.0, 60.0, 86400.0]), now=instants)
def test_prop_due_and_overdue_follow_the_rule_on_the_utc_timeline(rule, given_at, day, now):
    timers = pending_timers(state(rule=rule, doses=(TimedDose(3, 1, given_at),), day_seconds=day), now)
    by_event = {t.event: t.at for t in timers}
    assert by_event[DOSE_DUE] - given_at == timedelta(seconds=rule.interval_days * day)
    assert by_event[OVERDUE] - given_at == timedelta(seconds=rule.recommended_latest_days * day)
    assert by_event[DOSE_DUE] <= by_event[OVERDUE]


@given(
    start=instants,
    now=instants,
    lead=st.floats(min_value=0, max_value=7 * 86400, allow_nan=False),
    length=st.integers(1, 240),
    with_dose=st.booleans(),
)
def test_prop_next_timer_is_the_earliest_pending_and_a_reminder_never_follows_the_start(
    start, now, lead, length, with_dose
):
    doses = (TimedDose(1, 1, start - timedelta(days=30)),) if with_dose else ()
    inputs = state(doses=doses, appointment=booked(start, minutes=length), reminder_lead_seconds=lead)
    timers = pending_timers(inputs, now)
    first = next_timer(inputs, now)
    assert first is not None and first == min(timers, key=lambda t: (t.at, t.event))
    for timer in timers:
        if timer.event == REMINDER:
            assert now < start and start - timer.at == timedelta(seconds=lead)
        assert timer.event not in (DOSE_DUE, OVERDUE)  # a booked appointment holds those back
