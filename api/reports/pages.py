"""The location manager's dashboard and the programme (equity) report as pages: each chart an
SVG drawn on the server with its table beside it, and a CSV download of the same numbers."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import Actor, Manager, SessionDep
from api.downloads import download
from api.pages import i18n
from api.pages.rendering import PageRoute, render
from api.reports.deps import ScopeDep
from api.reports.figures import DASHBOARD_CHARTS, DIMENSION_NAMES, Figure, dashboard_figures, equity_figure
from domain.reporting import DIMENSIONS
from services import catalog
from services.dashboard import REPORT_WEEKS, LocationDashboard, equity_report, location_dashboard

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

Dimension = Annotated[str, Query(max_length=20)]
Weeks = Annotated[int, Query(ge=1, le=520)]


def _csv(figure: Figure, name: str) -> Response:
    return download(
        figure.csv(),
        "text/csv; charset=utf-8",
        f"{name}.csv",
        headers={"Content-Language": i18n.current_language()},
    )


async def _dashboard(
    request: Request, actor: Actor, db: SessionDep
) -> tuple[LocationDashboard, list[Figure], dict[str, str]]:
    # The language first: the charts' titles and labels are drawn in it.
    i18n.use_language(i18n.request_language(request, actor.user.preferred_language))
    board = await location_dashboard(db, actor.location)
    names = await catalog.product_names(db)
    # Drawing the charts is CPU work in vl-convert: off the event loop (the language goes along).
    return board, await asyncio.to_thread(dashboard_figures, board, names), names


@router.get("/dashboard")
async def dashboard_page(request: Request, actor: Manager, db: SessionDep) -> Response:
    board, figures, names = await _dashboard(request, actor, db)
    return render(request, "portal/dashboard.html", actor=actor, board=board, figures=figures, names=names)


async def _dashboard_csv(key: str, request: Request, actor: Actor, db: SessionDep) -> Response:
    board, figures, _names = await _dashboard(request, actor, db)
    figure = next(f for f in figures if f.key == key)
    return _csv(figure, f"{actor.location.code}-{key}-{board.today.isoformat()}")


def _csv_route(key: str) -> None:
    async def download_csv(request: Request, actor: Manager, db: SessionDep) -> Response:
        return await _dashboard_csv(key, request, actor, db)

    router.add_api_route(f"/dashboard/{key}.csv", download_csv, methods=["GET"], name=f"dashboard_{key}_csv")


# One address a chart (no path parameter: nothing here is a record of a location).
for _key in DASHBOARD_CHARTS:
    _csv_route(_key)


async def _equity(request: Request, scope: ScopeDep, db: SessionDep, by: str, weeks: int) -> Figure:
    preferred = scope.actor.user.preferred_language if scope.actor else None
    i18n.use_language(i18n.request_language(request, preferred))
    report = await equity_report(
        db, dimension=by, weeks=weeks, time_zone=scope.time_zone, location_id=scope.location_id
    )
    return await asyncio.to_thread(equity_figure, report)


@router.get("/reports/equity")
async def equity_page(
    request: Request, scope: ScopeDep, db: SessionDep, by: Dimension = "race", weeks: Weeks = 12
) -> Response:
    figure = await _equity(request, scope, db, by, weeks)
    return render(
        request,
        "portal/equity.html",
        actor=scope.actor,
        time_zone=scope.time_zone,
        scope=scope,
        report_figure=figure,
        by=by,
        weeks=weeks,
        dimensions=[(d, DIMENSION_NAMES[d]) for d in DIMENSIONS],
        spans=REPORT_WEEKS,
    )


@router.get("/reports/equity.csv")
async def equity_csv(
    request: Request, scope: ScopeDep, db: SessionDep, by: Dimension = "race", weeks: Weeks = 12
) -> Response:
    figure = await _equity(request, scope, db, by, weeks)
    where = scope.location.code if scope.location else "all-locations"
    return _csv(figure, f"{where}-doses-by-{by.replace('_', '-')}-{weeks}-weeks")
