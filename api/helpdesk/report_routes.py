"""The supervisor report as JSON and CSV: per team and week, the cases that met each SLA clock, the
median first response and satisfaction; the backlog by age. An agent sees their teams' numbers, a
help-desk administrator every team's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import AgentDep, SessionDep, SettingsDep
from api.downloads import download
from services import helpdesk_report
from services.helpdesk_report import BacklogBand, TeamWeek

router = APIRouter(prefix="/helpdesk/agent", tags=["helpdesk-agent"])
Weeks = Annotated[int, Query(ge=1, le=helpdesk_report.MAX_WEEKS, description="Weeks back, this one included")]


async def build(db: Any, settings: Any, agent: Any, weeks: int) -> helpdesk_report.SupervisorReport:
    team_ids = await helpdesk_report.report_team_ids(
        db=db, is_admin=agent.agent.is_admin, team_ids=agent.team_ids
    )
    return await helpdesk_report.supervisor_report(db=db, settings=settings, team_ids=team_ids, weeks=weeks)


@router.get("/report", response_model=helpdesk_report.SupervisorReport)
async def report(
    agent: AgentDep, db: SessionDep, settings: SettingsDep, weeks: Weeks = 8
) -> helpdesk_report.SupervisorReport:
    """The report's numbers (the page's charts and the CSV downloads show the same)."""
    return await build(db, settings, agent, weeks)


@router.get("/report/weeks.csv", response_class=Response)
async def report_weeks_csv(
    agent: AgentDep, db: SessionDep, settings: SettingsDep, weeks: Weeks = 8
) -> Response:
    """One row per team and week: cases, each clock met / missed / percent met, median first
    response in business hours, good and bad ratings."""
    found = await build(db, settings, agent, weeks)
    return download(
        helpdesk_report.to_csv(found.rows, TeamWeek), "text/csv; charset=utf-8", "helpdesk-weeks.csv"
    )


@router.get("/report/backlog.csv", response_class=Response)
async def report_backlog_csv(agent: AgentDep, db: SessionDep, settings: SettingsDep) -> Response:
    """One row per team and age band: the cases not yet resolved."""
    found = await build(db, settings, agent, 1)
    return download(
        helpdesk_report.to_csv(found.backlog, BacklogBand), "text/csv; charset=utf-8", "helpdesk-backlog.csv"
    )
