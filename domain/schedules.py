"""Vaccination schedules as data: which dose is next for a person, when, and of which product.

Pure (imported by workflows, services and tests): no I/O, no wall clock. A ``Schedule`` is one
version of the rules for a vaccine family (COVID-19, influenza, mpox) and an age band at the first
dose: the doses of the primary series (allowed products, minimum and recommended interval after the
previous dose, grace; a dose may apply only to a recorded condition such as "immunocompromised"),
then the boosters that may follow (minimum interval after the previous dose of the family, age band
on the day, allowed products: another product than the primary's is "mix and match").

A given dose keeps the schedule version it was given under (``GivenDose.schedule_version``);
``next_due`` plans the next dose with the newest version of the schedule the series started with, so
a rule change moves what is next, never what was given (``assess_given`` re-checks a history against
the versions it was given under).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.dose_rules import ProductRule, RuleViolation

PRIMARY = "primary"
BOOSTER = "booster"
IMMUNOCOMPROMISED = "immunocompromised"
CONDITIONS = (IMMUNOCOMPROMISED,)


@dataclass(frozen=True)
class ScheduledDose:
    """One dose of a primary series."""

    products: tuple[str, ...]
    min_interval_days: int = 0  # after the previous dose of the series (the first dose: 0)
    recommended_interval_days: int | None = None  # the latest recommended, after the previous dose
    grace_days: int = 4  # documenting this many days before the minimum interval is accepted
    same_as_first: bool = False  # must be the product the series started with
    condition: str | None = None  # given only to recipients with this condition


@dataclass(frozen=True)
class Booster:
    name: str
    products: tuple[str, ...]  # any of these, whatever the primary series was (mix and match)
    min_interval_days: int  # after the previous dose of the family
    min_age_years: int = 0  # on the day of the booster
    max_age_years: int | None = None
    repeats: bool = False  # one more after every one (a seasonal vaccine)
    grace_days: int = 4


@dataclass(frozen=True)
class Schedule:
    code: str
    name: str
    version: int
    family: str
    primary: tuple[ScheduledDose, ...]
    boosters: tuple[Booster, ...] = ()
    min_age_months: int = 0  # age band at the first dose
    max_age_months: int | None = None  # exclusive

    def __post_init__(self) -> None:
        if not self.code or not self.family or self.version < 1 or not self.primary:
            raise ValueError("a schedule needs a code, a family, a version >= 1 and a first dose")
        for number, dose in enumerate(self.primary, start=1):
            if not dose.products:
                raise ValueError(f"{self.code}: dose {number} allows no product")
            if dose.min_interval_days < 0 or dose.grace_days < 0:
                raise ValueError(f"{self.code}: dose {number} has a negative interval or grace")
            if number > 1 and dose.min_interval_days < 1:
                raise ValueError(f"{self.code}: dose {number} needs a minimum interval of a day or more")
            latest = dose.recommended_interval_days
            if latest is not None and latest < dose.min_interval_days:
                raise ValueError(f"{self.code}: dose {number}'s recommended interval is below its minimum")
        if self.primary[0].condition is not None:
            raise ValueError(f"{self.code}: the first dose cannot depend on a condition")
        for booster in self.boosters:
            if not booster.products or booster.min_interval_days < 1:
                raise ValueError(f"{self.code}: booster {booster.name!r} needs products and an interval")

    @property
    def label(self) -> str:
        return f"{self.name} (v{self.version})"

    def doses_for(self, conditions: Iterable[str]) -> tuple[ScheduledDose, ...]:
        """The primary doses this recipient is given (the condition-bound ones only if they apply)."""
        have = set(conditions)
        return tuple(d for d in self.primary if d.condition is None or d.condition in have)

    def fits_age(self, months: int) -> bool:
        return months >= self.min_age_months and (self.max_age_months is None or months < self.max_age_months)

    def products(self) -> set[str]:
        return {p for d in self.primary for p in d.products} | {p for b in self.boosters for p in b.products}


@dataclass(frozen=True)
class GivenDose:
    """A dose already given in a family, as the records keep it."""

    product: str
    given_at: datetime
    schedule: str  # the schedule code it was given under
    schedule_version: int
    kind: str = PRIMARY  # PRIMARY or BOOSTER


@dataclass(frozen=True)
class Due:
    """The next dose of a family: what, from when, under which rule."""

    schedule: Schedule
    kind: str  # PRIMARY or BOOSTER
    dose_number: int  # in the family (primary 1..n, then boosters n+1, ...)
    series_dose_number: int  # within its series (a booster is dose 1 of its own)
    products: tuple[str, ...]
    earliest: datetime | None  # None: any day (a first dose)
    recommended_latest: datetime | None
    grace_days: int
    rule: str  # names the rule, for people
    booster: Booster | None = None

    def allows(self, product: str) -> bool:
        return product in self.products


def age_in_months(birth: date, on: date) -> int:
    months = (on.year - birth.year) * 12 + on.month - birth.month
    return months - 1 if on.day < birth.day else months


def _after(at: datetime, days: int, day_seconds: float) -> datetime:
    return at.astimezone(UTC) + timedelta(seconds=days * day_seconds)


def _fmt(at: datetime, day_seconds: float) -> str:
    if day_seconds >= 86400:
        return at.date().isoformat()
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def newest(schedules: Iterable[Schedule]) -> dict[str, Schedule]:
    """The newest version of each schedule code."""
    best: dict[str, Schedule] = {}
    for schedule in schedules:
        if schedule.code not in best or best[schedule.code].version < schedule.version:
            best[schedule.code] = schedule
    return best


def first_dose_options(schedules: Iterable[Schedule], birth: date, on: date) -> list[Schedule]:
    """The schedules whose age band holds the person on the day of a first dose."""
    months = age_in_months(birth, on)
    return [s for s in newest(schedules).values() if s.fits_age(months)]


def next_due(
    schedules: Iterable[Schedule],
    history: Iterable[GivenDose],
    *,
    birth: date,
    conditions: Iterable[str] = (),
    day_seconds: float = 86400,
    product: str | None = None,
    on: date | None = None,
) -> Due | None:
    """The next dose of a family after ``history`` (doses of that family), or None when its schedule
    has nothing more. A first dose picks the schedule by ``product`` and the age ``on`` its day (any
    fitting schedule when no product is named; no age check without ``on``); later doses follow the
    newest version of the schedule the series started with."""
    current = newest(schedules)
    given = sorted(history, key=lambda d: d.given_at)
    conditions = tuple(conditions)
    if not given:
        options = list(current.values()) if on is None else first_dose_options(current.values(), birth, on)
        if product is not None:
            options = [s for s in options if product in s.primary[0].products]
        if not options:
            return None
        first = options[0]
        products = tuple(dict.fromkeys(p for s in options for p in s.primary[0].products))
        return Due(first, PRIMARY, 1, 1, products, None, None, 0, f"{first.label}, dose 1")
    started = next((d for d in given if d.kind == PRIMARY), given[0])
    schedule = current.get(started.schedule)
    if schedule is None:
        return None
    primary_given = [d for d in given if d.kind == PRIMARY]
    last = given[-1]
    plan = schedule.doses_for(conditions)
    if len(primary_given) < len(plan):
        number = len(primary_given) + 1
        step = plan[number - 1]
        products = (primary_given[0].product,) if step.same_as_first and primary_given else step.products
        latest = step.recommended_interval_days
        why = f"at least {step.min_interval_days} days after dose {number - 1}"
        if step.condition:
            why += f", for {step.condition} recipients"
        return Due(
            schedule,
            PRIMARY,
            number,
            number,
            products,
            _after(last.given_at, step.min_interval_days, day_seconds),
            _after(last.given_at, latest, day_seconds) if latest is not None else None,
            step.grace_days,
            f"{schedule.label}, dose {number}: {why}",
        )
    boosters_given = len(given) - len(primary_given)
    if not schedule.boosters:
        return None
    if boosters_given < len(schedule.boosters):
        booster = schedule.boosters[boosters_given]
    elif schedule.boosters[-1].repeats:
        booster = schedule.boosters[-1]
    else:
        return None
    earliest = _after(last.given_at, booster.min_interval_days, day_seconds)
    of_age = _birthday(birth, booster.min_age_years)
    if of_age > earliest:
        earliest = of_age
    return Due(
        schedule,
        BOOSTER,
        len(given) + 1,
        1,
        booster.products,
        earliest,
        None,
        booster.grace_days,
        f"{schedule.label}, {booster.name}: at least {booster.min_interval_days} days after the last dose"
        + (f", from age {booster.min_age_years}" if booster.min_age_years else ""),
        booster,
    )


def _birthday(birth: date, years: int) -> datetime:
    try:
        day = birth.replace(year=birth.year + years)
    except ValueError:  # 29 February
        day = birth.replace(year=birth.year + years, day=28)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def check_dose(
    due: Due | None,
    product: str,
    at: datetime,
    *,
    birth: date,
    family: str,
    booking: bool,
    day_seconds: float = 86400,
) -> None:
    """Refuses a dose of ``product`` at ``at`` that its schedule does not allow: the refusal names the
    rule and, when it is a matter of time, the instant the person becomes due. Booking has no grace;
    documenting accepts the dose's grace days early (the journey warns about it)."""
    if due is None:
        raise RuleViolation(
            "no_dose_due",
            f"No schedule offers a further {family} dose of {product} to this person.",
            details={"family": family, "product": product},
        )
    details: dict[str, object] = {"rule": due.rule, "schedule": due.schedule.code, "product": product}
    if not due.allows(product):
        raise RuleViolation(
            "product_not_in_schedule",
            f"{due.rule} allows {', '.join(due.products)}, not {product}.",
            details={**details, "allowed": list(due.products)},
        )
    booster = due.booster
    if booster is not None:
        age = age_in_months(birth, at.date()) // 12
        if booster.max_age_years is not None and age >= booster.max_age_years:
            raise RuleViolation(
                "age_out_of_band",
                f"{due.rule}: given up to age {booster.max_age_years}; the person is {age}.",
                details=details,
            )
    if due.earliest is None:
        return
    allowed_from = due.earliest if booking else due.earliest - timedelta(seconds=due.grace_days * day_seconds)
    if at.astimezone(UTC) < allowed_from:
        raise RuleViolation(
            "not_due_yet",
            f"{due.rule}. The person is due from {_fmt(due.earliest, day_seconds)}.",
            details={**details, "due_at": due.earliest.isoformat(), "dose_number": due.dose_number},
        )


def series_rule(due: Due, product: str, conditions: Iterable[str], base: ProductRule) -> ProductRule:
    """The rule a journey runs a series with: a primary series has the schedule's doses (with the
    condition-bound ones) and intervals; a booster is a series of one dose."""
    schedule = due.schedule
    common = {
        "code": product,
        "name": base.name,
        "version": base.version,
        "grace_days": base.grace_days,
        "family": schedule.family,
        "schedule_code": schedule.code,
        "schedule_version": schedule.version,
        "series_kind": due.kind,
        "first_dose_number": due.dose_number,
    }
    if due.kind == BOOSTER:
        return ProductRule(doses=1, interval_days=0, next_after_days=_after_booster(due), **common)  # type: ignore[arg-type]
    # A primary series continued in a new journey (an additional dose recorded after the series
    # ended) runs the doses still ahead.
    plan = schedule.doses_for(conditions)[due.series_dose_number - 1 :]
    intervals = tuple(d.min_interval_days for d in plan[1:])
    latest = max((d.recommended_interval_days or d.min_interval_days for d in plan[1:]), default=0)
    return ProductRule(
        doses=len(plan),
        interval_days=intervals[0] if intervals else 0,
        intervals=intervals,
        next_after_days=schedule.boosters[0].min_interval_days if schedule.boosters else 0,
        recommended_latest_days=max(latest, base.recommended_latest_days if len(plan) > 1 else 0, *intervals),
        **common,  # type: ignore[arg-type]
    )


def _after_booster(due: Due) -> int:
    """Days from this booster to the one after it (0: none follows)."""
    boosters = due.schedule.boosters
    if due.booster is None or due.booster not in boosters:
        return 0
    if due.booster.repeats:
        return due.booster.min_interval_days
    index = boosters.index(due.booster)
    return boosters[index + 1].min_interval_days if index + 1 < len(boosters) else 0


def family_of(schedules: Iterable[Schedule], product: str) -> str | None:
    for schedule in schedules:
        if product in schedule.products():
            return schedule.family
    return None


def schedule_as_dict(schedule: Schedule) -> dict[str, Any]:
    """The schedule as JSON-ready data (what the records keep and the API shows)."""
    return asdict(schedule)


def _typed(cls: type, data: Any) -> Any:
    """``cls`` from a JSON object whose every field has the type the dataclass declares."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__}: expected an object")
    kinds = {"str": str, "int": int, "bool": bool, "str | None": str, "int | None": int}
    values = dict(data)
    for spec in fields(cls):
        if spec.name not in values:
            continue
        value = values[spec.name]
        if spec.name == "products":
            if not isinstance(value, list | tuple) or not all(isinstance(p, str) and p for p in value):
                raise ValueError(f"{cls.__name__}.products: expected a list of product codes")
            values[spec.name] = tuple(value)
            continue
        kind = kinds.get(str(spec.type))
        if value is None and str(spec.type).endswith("| None"):
            continue
        if kind is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise ValueError(f"{cls.__name__}.{spec.name}: expected {spec.type}")
    return cls(**values)


def schedule_from_dict(data: Mapping[str, Any]) -> Schedule:
    """A schedule from data (the records, an edit through the API); ``ValueError`` when it is not one."""
    try:
        primary = data["primary"]
        boosters = data.get("boosters") or []
        if not isinstance(primary, list | tuple) or not isinstance(boosters, list | tuple):
            raise ValueError("primary and boosters must be lists")
        rest = {k: v for k, v in data.items() if k not in ("primary", "boosters")}
        schedule: Schedule = _typed(
            Schedule,
            {
                **rest,
                "primary": tuple(_typed(ScheduledDose, dose) for dose in primary),
                "boosters": tuple(_typed(Booster, booster) for booster in boosters),
            },
        )
        return schedule
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a schedule: {error}") from None
