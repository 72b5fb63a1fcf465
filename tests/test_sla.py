"""SLA state as a pure function of a case's event log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.business_hours import HELP_DESK_CALENDAR_DEFAULT, BusinessCalendar
from domain.sla import (
    DEFAULT_SLA_TARGETS,
    CaseEvent,
    PriorityTargets,
    SlaState,
    SlaTargets,
    compute_sla,
)

ALWAYS = BusinessCalendar.always_open()
DESK = HELP_DESK_CALENDAR_DEFAULT
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 12, 9, tzinfo=UTC)  # any instant: ALWAYS counts every second
HOUR = 3600.0
# Small targets in seconds, as a demo or a test on a real server would use.
QUICK = SlaTargets(
    urgent=PriorityTargets(10, 40),
    high=PriorityTargets(20, 80),
    normal=PriorityTargets(40, 240),
    low=PriorityTargets(80, 480),
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(seconds: float, kind: str, priority: str | None = None) -> CaseEvent:
    return CaseEvent(at=at(seconds), kind=kind, priority=priority)


def sla(events: list[CaseEvent], now: float, targets: SlaTargets = QUICK) -> SlaState:
    return compute_sla(events, ALWAYS, targets, at(now))


# --- one clock running ----------------------------------------------------------------------


def test_new_case_counts_towards_both_targets() -> None:
    state = sla([event(0, "created", "urgent")], now=4)
    assert state.priority == "urgent"
    assert state.clock_running
    fr = state.first_response
    assert (fr.target_seconds, fr.elapsed_business_seconds) == (10, 4)
    assert fr.due_at == at(10) and fr.running and fr.status == "ok"
    assert not (fr.met or fr.breached) and fr.breached_at is None and fr.completed_at is None
    assert state.resolution.due_at == at(40)
    assert state.next_breach_instant == at(10)


def test_priority_defaults_to_normal() -> None:
    assert sla([event(0, "created")], now=0).priority == "normal"


def test_at_risk_when_less_than_a_quarter_is_left() -> None:
    assert sla([event(0, "created", "urgent")], now=7.5).first_response.status == "ok"
    assert sla([event(0, "created", "urgent")], now=7.6).first_response.status == "at_risk"


def test_breach_at_the_due_instant() -> None:
    events = [event(0, "created", "urgent")]
    before = sla(events, now=9.999999)
    assert not before.first_response.breached
    due = sla(events, now=10)  # the workflow's timer fires exactly at due_at
    assert due.first_response.breached and due.first_response.breached_at == at(10)
    assert due.first_response.status == "breached"
    assert due.next_breach_instant == at(40)  # the resolution target is next
    later = sla(events, now=25)
    assert later.first_response.breached_at == at(10)
    assert later.first_response.due_at == at(10)  # still running: shows when it was due
    assert later.first_response.elapsed_business_seconds == 25


def test_first_response_meets_the_target() -> None:
    state = sla([event(0, "created", "urgent"), event(6, "first_response")], now=30)
    fr = state.first_response
    assert fr.met and not fr.breached and fr.status == "met"
    assert fr.completed_at == at(6) and fr.elapsed_business_seconds == 6
    assert fr.due_at is None and not fr.running
    assert state.clock_running  # the resolution clock still runs
    assert state.next_breach_instant == at(40)


def test_response_exactly_at_the_due_instant_meets_it_but_a_microsecond_late_does_not() -> None:
    on_time = sla([event(0, "created", "urgent"), event(10, "first_response")], now=11)
    assert on_time.first_response.met
    late = sla([event(0, "created", "urgent"), event(10.000001, "first_response")], now=11)
    fr = late.first_response
    assert fr.breached and not fr.met and fr.breached_at == at(10) and fr.status == "breached"
    assert fr.completed_at == at(10.000001)


# --- pending stops the clocks ---------------------------------------------------------------


def test_pending_stops_both_clocks() -> None:
    events = [event(0, "created", "urgent"), event(4, "pending")]
    state = sla(events, now=100)
    for target in state.targets:
        assert target.status == "paused" and not target.running and target.due_at is None
        assert target.elapsed_business_seconds == 4
    assert not state.clock_running
    assert state.next_breach_instant is None


def test_open_resumes_and_pending_time_does_not_count() -> None:
    events = [event(0, "created", "urgent"), event(4, "pending"), event(100, "open")]
    state = sla(events, now=102)
    assert state.first_response.elapsed_business_seconds == 6
    assert state.first_response.due_at == at(106)
    assert state.resolution.due_at == at(136)
    assert state.next_breach_instant == at(106)


def test_pending_exactly_at_the_due_instant_is_a_breach() -> None:
    state = sla([event(0, "created", "urgent"), event(10, "pending")], now=50)
    assert state.first_response.breached_at == at(10)
    assert state.first_response.status == "breached"
    assert state.resolution.status == "paused"


def test_response_while_pending_meets_the_target() -> None:
    events = [event(0, "created", "urgent"), event(4, "pending"), event(50, "first_response")]
    assert sla(events, now=60).first_response.met


# --- priority changes -----------------------------------------------------------------------


def test_priority_change_retargets_and_keeps_elapsed_time() -> None:
    events = [event(0, "created", "normal"), event(5, "priority", "urgent")]
    state = sla(events, now=6)
    assert state.priority == "urgent"
    assert state.first_response.target_seconds == 10
    assert state.first_response.elapsed_business_seconds == 6
    assert state.first_response.due_at == at(10)
    assert state.resolution.due_at == at(40)


def test_raising_priority_past_the_new_target_breaches_at_the_change() -> None:
    events = [event(0, "created", "low"), event(30, "priority", "urgent")]
    state = sla(events, now=31)
    assert state.first_response.breached_at == at(30)
    assert not state.resolution.breached and state.resolution.due_at == at(40)


def test_lowering_priority_extends_the_deadline_but_does_not_undo_a_breach() -> None:
    lowered = sla([event(0, "created", "urgent"), event(5, "priority", "low")], now=6)
    assert lowered.first_response.due_at == at(80)
    after_breach = [event(0, "created", "urgent"), event(15, "priority", "low")]
    state = sla(after_breach, now=16)
    assert state.first_response.breached_at == at(10)
    assert state.first_response.target_seconds == 80


def test_priority_change_while_pending_applies_on_resume() -> None:
    events = [
        event(0, "created", "low"),
        event(5, "pending"),
        event(20, "priority", "urgent"),
        event(100, "open"),
    ]
    assert sla(events, now=101).first_response.due_at == at(105)


# --- resolution -----------------------------------------------------------------------------


def test_resolve_and_reopen_keep_accumulated_resolution_time() -> None:
    created = [event(0, "created", "urgent"), event(3, "first_response"), event(30, "resolved")]
    resolved = sla(created, now=500)
    assert resolved.resolution.met and resolved.resolution.elapsed_business_seconds == 30
    assert not resolved.clock_running and resolved.next_breach_instant is None

    reopened = [*created, event(100, "reopened")]
    state = sla(reopened, now=105)
    assert state.resolution.elapsed_business_seconds == 35
    assert not state.resolution.met and state.resolution.completed_at is None
    assert state.resolution.due_at == at(110)
    assert state.first_response.met  # not re-armed

    late = sla([*reopened, event(120, "resolved")], now=130)
    assert late.resolution.breached_at == at(110)
    assert late.resolution.completed_at == at(120)
    assert late.resolution.status == "breached" and not late.resolution.met


def test_resolving_without_a_response_counts_as_the_response() -> None:
    state = sla([event(0, "created", "urgent"), event(5, "resolved")], now=50)
    assert state.first_response.met and state.first_response.completed_at == at(5)


def test_closing_completes_the_open_targets() -> None:
    state = sla([event(0, "created", "urgent"), event(5, "first_response"), event(8, "closed")], 90)
    assert state.resolution.met and not state.clock_running


def test_reopening_with_a_raised_priority_breaches_at_the_reopen() -> None:
    events = [
        event(0, "created", "low"),
        event(1, "first_response"),
        event(60, "resolved"),
        event(70, "priority", "urgent"),
        event(80, "reopened"),
    ]
    state = sla(events, now=81)
    assert state.resolution.breached_at == at(80)


# --- business hours -------------------------------------------------------------------------


def test_deadlines_follow_the_help_desk_calendar() -> None:
    friday_evening = datetime(2026, 1, 9, 18, 30, tzinfo=NEW_YORK)
    events = [CaseEvent(friday_evening, "created", "urgent")]
    state = compute_sla(events, DESK, DEFAULT_SLA_TARGETS, friday_evening + timedelta(hours=2))
    assert state.first_response.elapsed_business_seconds == 0.5 * HOUR
    assert state.first_response.due_at == datetime(2026, 1, 10, 8, 30, tzinfo=NEW_YORK)
    # Resolution: 4 business hours = 0.5 Fri + 3.5 Sat.
    assert state.resolution.due_at == datetime(2026, 1, 10, 11, 30, tzinfo=NEW_YORK)
    assert state.next_breach_instant == datetime(2026, 1, 10, 8, 30, tzinfo=NEW_YORK)


def test_pending_over_a_weekend_on_the_desk_calendar() -> None:
    events = [
        CaseEvent(datetime(2026, 1, 9, 17, tzinfo=NEW_YORK), "created", "high"),
        CaseEvent(datetime(2026, 1, 9, 18, tzinfo=NEW_YORK), "pending"),
        CaseEvent(datetime(2026, 1, 12, 9, tzinfo=NEW_YORK), "open"),
    ]
    now = datetime(2026, 1, 12, 9, 31, tzinfo=NEW_YORK)
    state = compute_sla(events, DESK, DEFAULT_SLA_TARGETS, now)
    # 1 h on Friday, nothing while pending, 31 min on Monday: 29 of 120 min left.
    assert state.first_response.elapsed_business_seconds == 91 * 60
    assert state.first_response.due_at == datetime(2026, 1, 12, 10, tzinfo=NEW_YORK)
    assert state.first_response.status == "at_risk"


# --- the log, the clock and the queue -------------------------------------------------------


def test_events_are_replayed_in_time_order() -> None:
    events = [event(8, "open"), event(0, "created", "urgent"), event(2, "pending")]
    assert sla(events, now=9).first_response.elapsed_business_seconds == 3


def test_events_stamped_after_now_still_apply() -> None:
    state = sla([event(0, "created", "urgent"), event(5, "first_response")], now=4.9)
    assert state.first_response.met and state.as_of == at(5)


def test_invalid_logs_are_rejected() -> None:
    with pytest.raises(ValueError, match="start with a 'created'"):
        sla([], now=0)
    with pytest.raises(ValueError, match="start with a 'created'"):
        sla([event(0, "pending"), event(1, "created")], now=2)
    with pytest.raises(ValueError, match="more than one 'created'"):
        sla([event(0, "created"), event(1, "created")], now=2)
    with pytest.raises(ValueError, match="aware"):
        compute_sla([event(0, "created")], ALWAYS, QUICK, datetime(2026, 1, 1))


def test_case_events_are_validated() -> None:
    with pytest.raises(ValueError, match="aware"):
        CaseEvent(datetime(2026, 1, 1), "created")
    with pytest.raises(ValueError, match="unknown case event kind"):
        CaseEvent(T0, "escalated")
    with pytest.raises(ValueError, match="unknown priority"):
        CaseEvent(T0, "priority", "critical")
    with pytest.raises(ValueError, match="needs the new priority"):
        CaseEvent(T0, "priority")
    with pytest.raises(ValueError, match="carries no priority"):
        CaseEvent(T0, "pending", "high")


def test_queue_sort_puts_the_oldest_breach_first() -> None:
    def case(created: float, *more: CaseEvent) -> SlaState:
        return sla([event(created, "created", "urgent"), *more], now=100)

    old_breach = case(0)  # first response breached at 10
    newer_breach = case(50)  # breached at 60
    due_soon = case(95)  # first response due at 105
    answered_late = case(70, event(90, "first_response"))  # breach closed; resolution due 110
    paused = case(90, event(91, "pending"))
    queue = [paused, due_soon, newer_breach, answered_late, old_breach]
    ordered = sorted(queue, key=lambda state: state.breach_sort_key)
    assert ordered == [old_breach, newer_breach, due_soon, answered_late, paused]


def test_to_dict_is_json_friendly() -> None:
    data = sla([event(0, "created", "urgent")], now=15).to_dict()
    assert data["priority"] == "urgent"
    assert data["next_breach_instant"] == at(40).isoformat()
    assert data["first_response"]["breached_at"] == at(10).isoformat()
    assert data["first_response"]["status"] == "breached"


# --- next update ----------------------------------------------------------------------------

# QUICK with next-update targets: normal waits at most 30 s for an agent's answer.
WITH_UPDATES = SlaTargets(
    urgent=PriorityTargets(10, 40, 5),
    high=PriorityTargets(20, 80, 15),
    normal=PriorityTargets(40, 240, 30),
    low=PriorityTargets(80, 480, 60),
)


def updates(events: list[CaseEvent], now: float) -> SlaState:
    return sla(events, now, WITH_UPDATES)


def test_next_update_is_idle_until_the_requester_writes() -> None:
    state = updates([event(0, "created")], now=100)
    assert state.next_update is not None and state.next_update.status == "idle"
    assert state.next_update_waits == 0 and state.to_dict()["next_update"]["status"] == "idle"
    # Targets without a next-update duration keep two clocks, as cases started before it did.
    assert sla([event(0, "created"), event(5, "requester_wrote")], now=100).next_update is None
    assert len(sla([event(0, "created")], now=1).targets) == 2


def test_next_update_runs_from_the_first_unanswered_message_to_the_agents_answer() -> None:
    log = [event(0, "created"), event(5, "first_response"), event(10, "requester_wrote")]
    waiting = updates([*log, event(20, "requester_wrote")], now=30)
    assert waiting.next_update is not None
    assert waiting.next_update.running and waiting.next_update.elapsed_business_seconds == 20
    assert waiting.next_update.due_at == at(40)  # a second message does not restart the clock
    assert waiting.next_breach_instant == at(40)
    answered = updates([*log, event(35, "agent_answered")], now=300)
    assert answered.next_update is not None and answered.next_update.status == "met"
    assert answered.next_update_waits == 1 and answered.next_update_breaches == 0


def test_next_update_breaches_once_per_unanswered_wait() -> None:
    log = [event(0, "created"), event(5, "first_response"), event(10, "requester_wrote")]
    late = updates(log, now=41)
    assert late.next_update is not None and late.next_update.breached_at == at(40)
    assert late.next_update_breaches == 1 and late.next_update.status == "breached"
    # Answered late, then a new wait answered in time: still one breach, the new wait is met.
    log += [event(50, "agent_answered"), event(60, "requester_wrote"), event(70, "agent_answered")]
    later = updates(log, now=500)
    assert later.next_update_waits == 2 and later.next_update_breaches == 1
    assert later.next_update is not None and later.next_update.status == "met"
    # A third wait left unanswered breaches on its own.
    third = updates([*log, event(80, "requester_wrote")], now=500)
    assert third.next_update_waits == 3 and third.next_update_breaches == 2


def test_next_update_pauses_while_pending_and_ends_at_resolution() -> None:
    log = [event(0, "created"), event(10, "requester_wrote"), event(20, "pending")]
    paused = updates(log, now=1000)
    assert paused.next_update is not None and paused.next_update.status == "paused"
    assert paused.next_update.elapsed_business_seconds == 10
    resumed = updates([*log, event(100, "open")], now=110)
    assert resumed.next_update is not None and resumed.next_update.due_at == at(120)
    resolved = updates([*log, event(100, "open"), event(105, "resolved")], now=1000)
    assert resolved.next_update is not None and resolved.next_update.status == "met"
    assert resolved.next_update_breaches == 0


def test_raising_priority_retargets_the_open_wait() -> None:
    log = [event(0, "created"), event(10, "requester_wrote"), event(20, "priority", "urgent")]
    state = updates(log, now=20)
    assert state.next_update is not None and state.next_update.breached_at == at(20)
    assert state.next_update_breaches == 1


# --- targets --------------------------------------------------------------------------------


def test_default_targets() -> None:
    assert DEFAULT_SLA_TARGETS.for_priority("urgent") == PriorityTargets(1 * HOUR, 4 * HOUR, 1 * HOUR)
    assert DEFAULT_SLA_TARGETS.for_priority("high") == PriorityTargets(2 * HOUR, 8 * HOUR, 2 * HOUR)
    assert DEFAULT_SLA_TARGETS.for_priority("normal") == PriorityTargets(4 * HOUR, 24 * HOUR, 4 * HOUR)
    assert DEFAULT_SLA_TARGETS.for_priority("low") == PriorityTargets(8 * HOUR, 48 * HOUR, 8 * HOUR)


def test_targets_parse_seconds_units_and_keep_unnamed_defaults() -> None:
    parsed = SlaTargets.parse(" Urgent=1800/2h , high = 90m/36000s, low=1.5h/10")
    assert parsed.urgent == PriorityTargets(1800, 7200)
    assert parsed.high == PriorityTargets(5400, 36000)
    assert parsed.low == PriorityTargets(5400, 10)
    assert parsed.normal == DEFAULT_SLA_TARGETS.normal
    assert SlaTargets.parse("") == DEFAULT_SLA_TARGETS
    assert SlaTargets.parse(QUICK.to_setting()) == QUICK
    assert DEFAULT_SLA_TARGETS.to_setting().startswith("urgent=3600/14400/3600,high=7200/28800/7200")
    assert SlaTargets.parse(DEFAULT_SLA_TARGETS.to_setting()) == DEFAULT_SLA_TARGETS
    # A third duration is the next-update target; without it the priority has no such clock.
    assert SlaTargets.parse("urgent=1h/4h/30m").urgent == PriorityTargets(3600, 14400, 1800)
    assert SlaTargets.parse("urgent=1h/4h").urgent.next_update_seconds is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("urgent", "expected priority=first/resolution"),
        ("critical=1/2", "expected priority=first/resolution"),
        ("urgent=3600", "needs first-response/resolution"),
        ("urgent=1/2/3/4", "needs first-response/resolution"),
        ("urgent=1/2/0", "positive"),
        ("urgent=1h/4x", "cannot read duration"),
        ("urgent=/4h", "cannot read duration"),
        ("urgent=-1/4h", "cannot read duration"),
        ("urgent=0/4h", "positive"),
        ("urgent=1/2,urgent=3/4", "twice"),
    ],
)
def test_malformed_target_settings_raise(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlaTargets.parse(text)


def test_unknown_priority_lookup_raises() -> None:
    with pytest.raises(ValueError, match="unknown priority"):
        QUICK.for_priority("critical")


# --- properties -----------------------------------------------------------------------------

KINDS = [
    "first_response",
    "pending",
    "open",
    "resolved",
    "reopened",
    "closed",
    "priority",
    "requester_wrote",
    "agent_answered",
]
PRIORITY_NAMES = ["urgent", "high", "normal", "low"]


@st.composite
def event_logs(draw: st.DrawFn) -> list[CaseEvent]:
    start = datetime(2026, 2, 27, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 20000)))
    log = [CaseEvent(start, "created", draw(st.sampled_from(PRIORITY_NAMES)))]
    moment = start
    for kind in draw(st.lists(st.sampled_from(KINDS), max_size=8)):
        moment += timedelta(minutes=draw(st.integers(0, 3000)))
        priority = draw(st.sampled_from(PRIORITY_NAMES)) if kind == "priority" else None
        log.append(CaseEvent(moment, kind, priority))
    return log


@settings(max_examples=150, deadline=None)
@given(event_logs(), st.one_of(st.integers(0, 300), st.integers(0, 30000)), st.sampled_from([DESK, ALWAYS]))
def test_a_timer_at_the_next_breach_instant_observes_that_breach(
    log: list[CaseEvent], minutes_after: int, cal: BusinessCalendar
) -> None:
    now = log[-1].at + timedelta(minutes=minutes_after)
    state = compute_sla(log, cal, DEFAULT_SLA_TARGETS, now)
    assert compute_sla(log, cal, DEFAULT_SLA_TARGETS, now) == state  # deterministic
    for target in state.targets:
        assert target.status in ("met", "breached", "paused", "at_risk", "ok", "idle")
        assert target.met + target.breached <= 1
        assert (target.breached_at is not None) == target.breached
        assert target.elapsed_business_seconds >= 0
    upcoming = state.next_breach_instant
    if upcoming is None:
        return
    assert upcoming > now
    just_before = compute_sla(log, cal, DEFAULT_SLA_TARGETS, upcoming - timedelta(microseconds=1))
    assert [t.breached for t in just_before.targets] == [t.breached for t in state.targets]
    fired = compute_sla(log, cal, DEFAULT_SLA_TARGETS, upcoming)
    newly = [
        t for t, was in zip(fired.targets, state.targets, strict=True) if t.breached and not was.breached
    ]
    assert newly and all(t.breached_at == upcoming for t in newly)
    assert fired.next_breach_instant is None or fired.next_breach_instant > upcoming


@settings(max_examples=150, deadline=None)
@given(event_logs(), st.integers(0, 30000), st.integers(1, 30000), st.sampled_from([DESK, ALWAYS]))
def test_next_update_breaches_never_go_back_and_never_exceed_the_waits(
    log: list[CaseEvent], minutes_after: int, more_minutes: int, cal: BusinessCalendar
) -> None:
    now = log[-1].at + timedelta(minutes=minutes_after)
    state = compute_sla(log, cal, DEFAULT_SLA_TARGETS, now)
    later = compute_sla(log, cal, DEFAULT_SLA_TARGETS, now + timedelta(minutes=more_minutes))
    assert state.next_update is not None
    assert 0 <= state.next_update_breaches <= state.next_update_waits
    assert state.next_update_waits <= sum(e.kind == "requester_wrote" for e in log)
    # Time passing alone never adds a wait, and never takes back a breach (it was escalated).
    assert later.next_update_waits == state.next_update_waits
    assert state.next_update_breaches <= later.next_update_breaches <= state.next_update_breaches + 1
    # An agent's answer right away leaves nothing running on the next-update clock.
    answered = compute_sla([*log, CaseEvent(log[-1].at, "agent_answered")], cal, DEFAULT_SLA_TARGETS, now)
    assert answered.next_update is not None and not answered.next_update.running
