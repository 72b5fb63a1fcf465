"""The schedules (version 1) a new programme starts with, and the products they add.

Data, not code paths: the records seed these once (records/schedules.py), after which an
administrator changes a schedule by adding a version (programme-wide rules; managers may view).
"""

from __future__ import annotations

from domain.dose_rules import DEFAULT_PRODUCTS, ProductRule
from domain.schedules import IMMUNOCOMPROMISED, Booster, Schedule, ScheduledDose

YEAR_MONTHS = 12
COVID = "covid19"

# Products the schedules add beside domain.dose_rules.DEFAULT_PRODUCTS (their rule is the base a
# journey starts from; the schedule sets the doses and intervals).
SCHEDULE_PRODUCTS: tuple[ProductRule, ...] = (
    ProductRule(
        code="pfizer-paed",
        name="Pfizer-BioNTech (ages 5-11)",
        version=1,
        doses=2,
        interval_days=21,
    ),
    ProductRule(code="influenza", name="Influenza (seasonal)", version=1, doses=1, interval_days=0),
    ProductRule(code="jynneos", name="JYNNEOS (mpox)", version=1, doses=2, interval_days=28),
)

SEEDED_PRODUCTS: tuple[ProductRule, ...] = DEFAULT_PRODUCTS + SCHEDULE_PRODUCTS
# Demo lot numbers start with three letters of the product; these would collide ("PFI").
LOT_PREFIXES = {"pfizer-paed": "PPD", "influenza": "FLU", "jynneos": "JYN"}

ADULT_COVID_BOOSTERS = (
    Booster(
        "COVID-19 booster",
        ("pfizer", "moderna", "janssen", "novavax"),
        min_interval_days=150,
        min_age_years=18,
    ),
)


def _covid_primary(product: str, interval: int, *, two_doses: bool = True) -> tuple[ScheduledDose, ...]:
    first = ScheduledDose((product,))
    if not two_doses:
        return (first,)
    return (
        first,
        ScheduledDose((product,), interval, 42, same_as_first=True),
        # From autumn 2021: an additional primary dose for immunocompromised people.
        ScheduledDose((product,), 28, 60, same_as_first=True, condition=IMMUNOCOMPROMISED),
    )


DEFAULT_SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        code="covid19-pfizer",
        name="COVID-19 Pfizer-BioNTech, ages 12+",
        version=1,
        family=COVID,
        primary=_covid_primary("pfizer", 21),
        boosters=ADULT_COVID_BOOSTERS,
        min_age_months=12 * YEAR_MONTHS,
    ),
    Schedule(
        code="covid19-moderna",
        name="COVID-19 Moderna, ages 18+",
        version=1,
        family=COVID,
        primary=_covid_primary("moderna", 28),
        boosters=ADULT_COVID_BOOSTERS,
        min_age_months=18 * YEAR_MONTHS,
    ),
    Schedule(
        code="covid19-novavax",
        name="COVID-19 Novavax, ages 18+",
        version=1,
        family=COVID,
        primary=_covid_primary("novavax", 21)[:2],
        boosters=ADULT_COVID_BOOSTERS,
        min_age_months=18 * YEAR_MONTHS,
    ),
    Schedule(
        code="covid19-janssen",
        name="COVID-19 Janssen, ages 18+",
        version=1,
        family=COVID,
        primary=_covid_primary("janssen", 0, two_doses=False),
        boosters=(
            Booster(
                "COVID-19 booster",
                ("pfizer", "moderna", "janssen"),
                min_interval_days=60,
                min_age_years=18,
            ),
        ),
        min_age_months=18 * YEAR_MONTHS,
    ),
    Schedule(
        code="covid19-pfizer-paediatric",
        name="COVID-19 Pfizer-BioNTech paediatric, ages 5-11",
        version=1,
        family=COVID,
        primary=_covid_primary("pfizer-paed", 21),
        boosters=(
            Booster(
                "COVID-19 paediatric booster",
                ("pfizer-paed",),
                min_interval_days=150,
                min_age_years=5,
                max_age_years=12,
            ),
        ),
        min_age_months=5 * YEAR_MONTHS,
        max_age_months=12 * YEAR_MONTHS,
    ),
    Schedule(
        code="influenza-seasonal",
        name="Influenza, one dose a season",
        version=1,
        family="influenza",
        primary=(ScheduledDose(("influenza",)),),
        boosters=(Booster("next season's dose", ("influenza",), min_interval_days=180, repeats=True),),
        min_age_months=6,
    ),
    Schedule(
        code="mpox-jynneos",
        name="Mpox JYNNEOS, 2 doses 28 days apart",
        version=1,
        family="mpox",
        primary=(ScheduledDose(("jynneos",)), ScheduledDose(("jynneos",), 28, 56, same_as_first=True)),
        min_age_months=18 * YEAR_MONTHS,
    ),
)
