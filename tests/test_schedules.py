"""Schedules as data (domain.schedules): the next-due computation, unit cases and hypothesis properties."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.dose_rules import DEFAULT_PRODUCTS_BY_CODE, RuleViolation, check_booking
from domain.schedule_defaults import DEFAULT_SCHEDULES
from domain.schedules import (
    BOOSTER,
    IMMUNOCOMPROMISED,
    PRIMARY,
    GivenDose,
    Schedule,
    check_dose,
    next_due,
    series_rule,
)

DAY = 86400
ADULT = date(1980, 5, 17)
CHILD = date(2019, 3, 1)
T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
BY_CODE = {s.code: s for s in DEFAULT_SCHEDULES}
COVID = [s for s in DEFAULT_SCHEDULES if s.family == "covid19"]


def dose(product: str, at: datetime, schedule: str = "covid19-pfizer", kind: str = PRIMARY) -> GivenDose:
    return GivenDose(product, at, schedule, 1, kind)


def test_pfizer_primary_then_mixed_booster() -> None:
    history = [dose("pfizer", T0)]
    second = next_due(DEFAULT_SCHEDULES, history, birth=ADULT)
    assert second is not None and second.products == ("pfizer",)
    assert second.earliest == T0 + timedelta(days=21)
    history.append(dose("pfizer", T0 + timedelta(days=21)))
    booster = next_due(DEFAULT_SCHEDULES, history, birth=ADULT)
    assert booster is not None and booster.kind == BOOSTER and booster.dose_number == 3
    assert "moderna" in booster.products  # mix and match
    with pytest.raises(RuleViolation) as early:
        check_dose(booster, "moderna", T0 + timedelta(days=60), birth=ADULT, family="covid19", booking=True)
    assert early.value.code == "not_due_yet"
    assert early.value.details["due_at"] == (T0 + timedelta(days=171)).isoformat()
    assert "booster" in early.value.details["rule"]
    check_dose(booster, "moderna", T0 + timedelta(days=171), birth=ADULT, family="covid19", booking=True)


def test_immunocompromised_get_a_third_primary_dose() -> None:
    history = [dose("pfizer", T0), dose("pfizer", T0 + timedelta(days=21))]
    third = next_due(DEFAULT_SCHEDULES, history, birth=ADULT, conditions=[IMMUNOCOMPROMISED])
    assert third is not None and (third.kind, third.dose_number) == (PRIMARY, 3)
    assert third.earliest == T0 + timedelta(days=49)
    with pytest.raises(RuleViolation) as other:
        check_dose(third, "moderna", third.earliest, birth=ADULT, family="covid19", booking=True)
    assert other.value.code == "product_not_in_schedule"
    rule = series_rule(
        next_due(DEFAULT_SCHEDULES, [], birth=ADULT, product="pfizer", on=T0.date()),  # type: ignore[arg-type]
        "pfizer",
        [IMMUNOCOMPROMISED],
        DEFAULT_PRODUCTS_BY_CODE["pfizer"],
    )
    assert (rule.doses, rule.intervals) == (3, (21, 28))
    check_booking(rule, 3, T0 + timedelta(days=49), T0 + timedelta(days=21), DAY)
    with pytest.raises(RuleViolation):
        check_booking(rule, 3, T0 + timedelta(days=42), T0 + timedelta(days=21), DAY)


def test_age_band_picks_the_paediatric_formulation() -> None:
    child = next_due(COVID, [], birth=CHILD, on=T0.date())
    assert child is not None and child.products == ("pfizer-paed",)
    assert next_due(DEFAULT_SCHEDULES, [], birth=CHILD, product="pfizer", on=T0.date()) is None
    with pytest.raises(RuleViolation) as refused:
        check_dose(None, "pfizer", T0, birth=CHILD, family="covid19", booking=True)
    assert refused.value.code == "no_dose_due"
    adult = next_due(COVID, [], birth=ADULT, on=T0.date())
    assert adult is not None and "pfizer-paed" not in adult.products


def test_influenza_once_a_season_and_mpox_two_doses() -> None:
    flu = [dose("influenza", T0, "influenza-seasonal")]
    again = next_due(DEFAULT_SCHEDULES, flu, birth=ADULT)
    assert again is not None and again.earliest == T0 + timedelta(days=180)
    flu.append(dose("influenza", T0 + timedelta(days=200), "influenza-seasonal", BOOSTER))
    assert next_due(DEFAULT_SCHEDULES, flu, birth=ADULT) is not None  # a season after another
    mpox = [dose("jynneos", T0, "mpox-jynneos")]
    second = next_due(DEFAULT_SCHEDULES, mpox, birth=ADULT)
    assert second is not None and second.earliest == T0 + timedelta(days=28)
    mpox.append(dose("jynneos", T0 + timedelta(days=28), "mpox-jynneos"))
    assert next_due(DEFAULT_SCHEDULES, mpox, birth=ADULT) is None


def test_schedule_validation() -> None:
    base = BY_CODE["mpox-jynneos"]
    with pytest.raises(ValueError):
        dataclasses.replace(base, primary=())
    with pytest.raises(ValueError):
        dataclasses.replace(
            base, primary=(base.primary[0], dataclasses.replace(base.primary[1], min_interval_days=0))
        )


# --------------------------------------------------------------------------- properties

schedules = st.sampled_from([s for s in DEFAULT_SCHEDULES if s.min_age_months < 18 * 12 + 1])
gaps = st.lists(st.integers(min_value=0, max_value=400), min_size=0, max_size=6)
conditions = st.sampled_from([(), (IMMUNOCOMPROMISED,)])


def _history(schedule: Schedule, chosen: list[int], conds: tuple[str, ...], birth: date) -> list[GivenDose]:
    """A history built by always giving what next_due offers, ``gap`` days after it becomes due."""
    history: list[GivenDose] = []
    at = T0
    for gap in chosen:
        due = next_due([schedule], history, birth=birth, conditions=conds, on=at.date())
        if due is None:
            break
        at = (due.earliest or at) + timedelta(days=gap)
        history.append(GivenDose(due.products[-1], at, schedule.code, schedule.version, due.kind))
    return history


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(schedules, gaps, conditions, st.integers(min_value=0, max_value=400))
def test_next_due_respects_minimum_interval_and_products(
    schedule: Schedule, chosen: list[int], conds: tuple[str, ...], probe: int
) -> None:
    birth = ADULT if schedule.min_age_months >= 12 else CHILD
    if schedule.max_age_months is not None:
        birth = CHILD
    history = _history(schedule, chosen, conds, birth)
    due = next_due([schedule], history, birth=birth, conditions=conds, on=T0.date())
    if due is None:
        return
    assert due.products and set(due.products) <= schedule.products()
    if not history:
        assert due.dose_number == 1 and due.earliest is None
        return
    assert due.dose_number == len(history) + 1
    last = history[-1].given_at
    if due.kind == PRIMARY:
        step = schedule.doses_for(conds)[due.dose_number - 1]
        assert due.earliest == last + timedelta(days=step.min_interval_days)
        if step.same_as_first:
            assert due.products == (history[0].product,)
    else:
        assert due.booster is not None
        assert due.earliest is not None and due.earliest >= last + timedelta(
            days=due.booster.min_interval_days
        )
    # Booking before the minimum interval is always refused, with the date it becomes due.
    early = due.earliest - timedelta(days=1 + probe % 30) if due.earliest else None
    if early is not None:
        with pytest.raises(RuleViolation) as refused:
            check_dose(due, due.products[0], early, birth=birth, family=schedule.family, booking=True)
        assert refused.value.code in ("not_due_yet", "age_out_of_band")


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(schedules, gaps, conditions, st.integers(min_value=1, max_value=90), st.booleans())
def test_a_rule_change_never_rewrites_doses_given(
    schedule: Schedule, chosen: list[int], conds: tuple[str, ...], new_interval: int, drop_boosters: bool
) -> None:
    birth = CHILD if schedule.max_age_months is not None else ADULT
    history = _history(schedule, chosen, conds, birth)
    before = next_due([schedule], history, birth=birth, conditions=conds, on=T0.date())
    changed = dataclasses.replace(
        schedule,
        version=schedule.version + 1,
        primary=(schedule.primary[0],)
        + tuple(
            dataclasses.replace(d, min_interval_days=new_interval, recommended_interval_days=None)
            for d in schedule.primary[1:]
        ),
        boosters=() if drop_boosters else schedule.boosters,
    )
    after = next_due([schedule, changed], history, birth=birth, conditions=conds, on=T0.date())
    # The doses already given keep their version and their count; only what is next moves.
    assert all(d.schedule_version == schedule.version for d in history)
    for due in (before, after):
        if due is not None and history:
            assert due.dose_number == len(history) + 1
    if after is not None:
        assert after.schedule.version == changed.version
        assert set(after.products) <= changed.products()
        if after.kind == PRIMARY and history:
            assert after.earliest == history[-1].given_at + timedelta(days=new_interval)
