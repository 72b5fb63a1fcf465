"""The supervisor report page: per team, charts drawn on the server as SVG (no script) with a
table of the same numbers beside each one for screen readers, and the CSV downloads."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import AgentDep, SessionDep, SettingsDep
from api.helpdesk.pages import AgentPageRoute, _page
from api.pages.i18n import N_, gettext, request_language, use_language
from services import helpdesk_report
from services.charts import Axis, bar_chart

router = APIRouter(prefix="/helpdesk/agent", route_class=AgentPageRoute, include_in_schema=False)

CLOCK_NAMES = {
    "first_response": N_("First response"),
    "resolution": N_("Resolution"),
    "next_update": N_("Next update"),
}
AGE_NAMES = {
    "under 1 day": N_("under 1 day"),
    "1-3 days": N_("1–3 days"),
    "3-7 days": N_("3–7 days"),
    "7 days or more": N_("7 days or more"),
}


def team_charts(rows: list[helpdesk_report.TeamWeek], weeks: list[str]) -> dict[str, str]:
    """One team's three charts (SVG), titled in the page's language."""
    week = Axis("week", gettext("Week"), order=weeks)
    clock = Axis("clock", gettext("Clock"), order=[gettext(n) for n in CLOCK_NAMES.values()])
    shares = [
        {"week": r.week, "clock": gettext(name), "percent": getattr(r, f"{key}_met_percent")}
        for r in rows
        for key, name in CLOCK_NAMES.items()
    ]
    return {
        "clocks": bar_chart(
            shares, x=week, y=Axis("percent", gettext("Percent met")), color=clock, grouped=True
        ),
        "first_response": bar_chart(
            [{"week": r.week, "hours": r.median_first_response_hours} for r in rows],
            x=week,
            y=Axis("hours", gettext("Median first response (business hours)")),
        ),
        "satisfaction": bar_chart(
            [{"week": r.week, "percent": r.good_percent} for r in rows],
            x=week,
            y=Axis("percent", gettext("Percent rated good")),
        ),
    }


def backlog_chart(report: helpdesk_report.SupervisorReport) -> str:
    ages = [gettext(n) for n in AGE_NAMES.values()]
    rows = [{"age": gettext(AGE_NAMES[b.age]), "cases": b.cases, "team": b.team} for b in report.backlog]
    return bar_chart(
        rows,
        x=Axis("age", gettext("Age"), order=ages),
        y=Axis("cases", gettext("Open cases")),
        color=Axis("team", gettext("Team"), order=report.teams),
    )


@router.get("/report")
async def report_page(
    request: Request,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    weeks: Annotated[int, Query(ge=1, le=helpdesk_report.MAX_WEEKS)] = 8,
) -> Response:
    team_ids = await helpdesk_report.report_team_ids(
        db=db, is_admin=agent.agent.is_admin, team_ids=agent.team_ids
    )
    report = await helpdesk_report.supervisor_report(db=db, settings=settings, team_ids=team_ids, weeks=weeks)
    language = request_language(request)
    use_language(language)  # the charts' titles are in the page's language
    by_team: dict[str, list[helpdesk_report.TeamWeek]] = {}
    for row in report.rows:
        by_team.setdefault(row.team, []).append(row)
    # Drawing is CPU work: off the event loop.
    charts: dict[str, Any] = {
        team: await asyncio.to_thread(team_charts, rows, report.weeks) for team, rows in by_team.items()
    }
    backlog = await asyncio.to_thread(backlog_chart, report)
    return _page(
        request,
        "help/report.html",
        time_zone=settings.helpdesk_time_zone,
        agent=agent,
        report=report,
        by_team=by_team,
        charts=charts,
        backlog_svg=backlog,
        weeks=weeks,
        clock_names=CLOCK_NAMES,
        age_names=AGE_NAMES,
        language=language,
    )
