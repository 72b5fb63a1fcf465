"""The help desk's supervisor report: per team and week (of the case's opening, in the help desk's
time zone), how many cases met each SLA clock, the median first response (business hours) and
satisfaction; and the backlog now, by age. The page draws it as charts beside tables; the CSV
downloads carry the same numbers.

Each clock of a case is decided by the same pure rule the case workflow uses (`domain.sla`): *met*
when completed in time, *missed* once breached, undecided while it still runs. Next update counts a
case as missed when any of its requester waits ran late, met when every wait was answered in time.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Invalid
from domain.settings import Settings
from domain.sla import SlaState
from records.db import utcnow
from records.helpdesk import Case, Team
from records.helpdesk_survey import CaseSurvey
from services.helpdesk_views import sla_of_cases

CLOCKS = ("first_response", "resolution", "next_update")
# Backlog age bands, in calendar days since the case was opened: [low, high).
AGE_BANDS = (("under 1 day", 0, 1), ("1-3 days", 1, 3), ("3-7 days", 3, 7), ("7 days or more", 7, None))
OPEN_STATES = ("new", "open", "pending")
MAX_WEEKS = 52


@dataclass(frozen=True)
class TeamWeek:
    """One team's cases opened in one week."""

    team: str
    week: str  # ISO week, e.g. "2026-W49"
    cases: int
    first_response_met: int
    first_response_missed: int
    first_response_met_percent: float | None
    resolution_met: int
    resolution_missed: int
    resolution_met_percent: float | None
    next_update_met: int
    next_update_missed: int
    next_update_met_percent: float | None
    median_first_response_hours: float | None
    rated_good: int
    rated_bad: int
    good_percent: float | None


@dataclass(frozen=True)
class BacklogBand:
    team: str
    age: str  # one of AGE_BANDS' names
    cases: int


@dataclass(frozen=True)
class SupervisorReport:
    weeks: list[str]
    teams: list[str]
    rows: list[TeamWeek]
    backlog: list[BacklogBand]
    as_of: datetime


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def clock_outcome(sla: SlaState | None, clock: str) -> str | None:
    """'met', 'missed' or None (still undecided, or no such clock) for one clock of a case."""
    if sla is None:
        return None
    if clock == "next_update":
        waiting = sla.next_update
        if waiting is None or not sla.next_update_waits:
            return None
        if sla.next_update_breaches:
            return "missed"
        return None if waiting.running or waiting.status == "paused" else "met"
    target = sla.first_response if clock == "first_response" else sla.resolution
    return "met" if target.met else "missed" if target.breached else None


def iso_week(instant: datetime, zone: ZoneInfo) -> str:
    year, week, _day = instant.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


async def supervisor_report(
    *, db: AsyncSession, settings: Settings, team_ids: Iterable[int], weeks: int = 8
) -> SupervisorReport:
    """The report for these teams over the last `weeks` weeks (this one included)."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise Invalid(f"weeks is 1 to {MAX_WEEKS}", code="bad_weeks")
    zone = ZoneInfo(settings.helpdesk_time_zone)
    now = utcnow()
    local = now.astimezone(zone)
    this_monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    since = this_monday - timedelta(weeks=weeks - 1)
    week_labels = [iso_week(since + timedelta(weeks=i, days=3), zone) for i in range(weeks)]
    teams = {
        t.id: t.name
        for t in (
            await db.execute(select(Team).where(Team.id.in_(list(team_ids))).order_by(Team.name))
        ).scalars()
    }
    opened = list(
        (
            await db.execute(
                select(Case).where(Case.team_id.in_(list(teams)), Case.created_at >= since.astimezone(UTC))
            )
        ).scalars()
    )
    backlog_cases = list(
        (
            await db.execute(select(Case).where(Case.team_id.in_(list(teams)), Case.state.in_(OPEN_STATES)))
        ).scalars()
    )
    states = await sla_of_cases(db, [c.id for c in opened])
    ratings = dict(
        (
            await db.execute(
                select(CaseSurvey.case_id, CaseSurvey.rating).where(
                    CaseSurvey.case_id.in_([c.id for c in opened])
                )
            )
        ).all()
    )
    grouped: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for case in opened:
        grouped[(teams[case.team_id], iso_week(case.created_at, zone))].append(case)
    rows = [
        _week_row(team, week, grouped.get((team, week), []), states, ratings)
        for team in sorted(teams.values())
        for week in week_labels
    ]
    return SupervisorReport(
        weeks=week_labels,
        teams=sorted(teams.values()),
        rows=rows,
        backlog=_backlog(backlog_cases, teams, now),
        as_of=now,
    )


def _week_row(
    team: str, week: str, cases: list[Case], states: dict[int, SlaState], ratings: dict[int, str | None]
) -> TeamWeek:
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        for clock in CLOCKS:
            outcome = clock_outcome(states.get(case.id), clock)
            if outcome:
                counts[f"{clock}_{outcome}"] += 1
    responses = [
        s.first_response.elapsed_business_seconds / 3600
        for s in (states.get(c.id) for c in cases)
        if s is not None and s.first_response.completed_at is not None
    ]
    good = sum(ratings.get(c.id) == "good" for c in cases)
    bad = sum(ratings.get(c.id) == "bad" for c in cases)
    met = {clock: counts[f"{clock}_met"] for clock in CLOCKS}
    missed = {clock: counts[f"{clock}_missed"] for clock in CLOCKS}
    return TeamWeek(
        team=team,
        week=week,
        cases=len(cases),
        first_response_met=met["first_response"],
        first_response_missed=missed["first_response"],
        first_response_met_percent=percent(
            met["first_response"], met["first_response"] + missed["first_response"]
        ),
        resolution_met=met["resolution"],
        resolution_missed=missed["resolution"],
        resolution_met_percent=percent(met["resolution"], met["resolution"] + missed["resolution"]),
        next_update_met=met["next_update"],
        next_update_missed=missed["next_update"],
        next_update_met_percent=percent(met["next_update"], met["next_update"] + missed["next_update"]),
        median_first_response_hours=round(statistics.median(responses), 2) if responses else None,
        rated_good=good,
        rated_bad=bad,
        good_percent=percent(good, good + bad),
    )


def _backlog(cases: list[Case], teams: dict[int, str], now: datetime) -> list[BacklogBand]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for case in cases:
        days = (now - case.created_at) / timedelta(days=1)
        band = next(name for name, low, high in AGE_BANDS if days >= low and (high is None or days < high))
        counts[(teams[case.team_id], band)] += 1
    return [
        BacklogBand(team, name, counts[(team, name)])
        for team in sorted(teams.values())
        for name, _, _ in AGE_BANDS
    ]


def to_csv(rows: Iterable[TeamWeek] | Iterable[BacklogBand], kind: type[TeamWeek] | type[BacklogBand]) -> str:
    """The rows as CSV, one column per field (empty: no decided case to measure)."""
    out = io.StringIO()
    names = [f.name for f in fields(kind)]
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(getattr(row, n)) for n in names])
    return out.getvalue()


def _cell(value: object) -> object:
    # A team name a spreadsheet would run as a formula is kept as text.
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        return "'" + value
    return "" if value is None else value


async def report_team_ids(*, db: AsyncSession, is_admin: bool, team_ids: Iterable[int]) -> list[int]:
    """The teams a supervisor's report covers: their own, or every team for an administrator."""
    if is_admin:
        return list((await db.execute(select(Team.id))).scalars())
    return list(team_ids)
