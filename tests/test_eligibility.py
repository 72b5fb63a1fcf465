"""Eligibility rules as pure functions: minimum age on the day, screening answers that refuse or defer."""

from __future__ import annotations

from datetime import date

import pytest

from domain.dose_rules import RuleViolation
from domain.eligibility import EligibilityRules, ScreeningRule, age_on, check_eligibility

FEVER = ScreeningRule(
    "fever", "Do you have a fever today?", "yes", "defer", 14, "wait until the fever is gone"
)
ALLERGY = ScreeningRule("allergy", "Severe reaction to a component?", "yes", "refuse", None, "allergic")
RULES = EligibilityRules("pfizer", 12, (FEVER, ALLERGY))


def test_age_counts_whole_years_and_a_leap_day_birthday_from_the_first_of_march():
    assert age_on(date(2010, 6, 15), date(2022, 6, 14)) == 11
    assert age_on(date(2010, 6, 15), date(2022, 6, 15)) == 12
    assert age_on(date(2008, 2, 29), date(2021, 2, 28)) == 12
    assert age_on(date(2008, 2, 29), date(2020, 2, 28)) == 11


def test_the_minimum_age_is_reached_on_the_birthday():
    answers = {"fever": "no", "allergy": "no"}
    check_eligibility(RULES, date(2010, 6, 15), date(2022, 6, 15), answers)
    with pytest.raises(RuleViolation) as refused:
        check_eligibility(RULES, date(2010, 6, 15), date(2022, 6, 14), answers)
    assert refused.value.code == "too_young" and refused.value.details == {"minimum_age": 12, "age": 11}
    assert "aged 12 and over" in refused.value.message


def test_a_triggering_answer_defers_until_a_date_or_refuses_with_the_reason():
    with pytest.raises(RuleViolation) as deferred:
        check_eligibility(RULES, date(1970, 1, 1), date(2021, 3, 1), {"fever": " YES ", "allergy": "no"})
    assert deferred.value.code == "screening_deferred" and deferred.value.details["until"] == "2021-03-15"
    with pytest.raises(RuleViolation) as refused:
        check_eligibility(RULES, date(1970, 1, 1), date(2021, 3, 1), {"fever": "no", "allergy": "yes"})
    assert refused.value.code == "screening_refused" and "allergic" in refused.value.message


def test_every_question_that_applies_must_be_answered():
    with pytest.raises(RuleViolation) as incomplete:
        check_eligibility(RULES, date(1970, 1, 1), date(2021, 3, 1), {"fever": "no"})
    assert incomplete.value.kind == "invalid" and incomplete.value.details["missing"] == ["allergy"]
    with pytest.raises(RuleViolation):
        check_eligibility(RULES, date(1970, 1, 1), date(2021, 3, 1), None)
    check_eligibility(EligibilityRules("janssen", None), date(2020, 1, 1), date(2021, 3, 1), None)
