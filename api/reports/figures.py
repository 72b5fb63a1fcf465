"""A chart, the table beside it and its CSV, all from the same rows: the page shows the SVG
(hidden from screen readers) and the table (for everyone), the CSV download writes the rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date

from api.pages import i18n
from api.pages.choices import ETHNICITIES, RACES, SEXES
from api.pages.i18n import N_, gettext
from domain.reporting import UNKNOWN
from services.charts import Axis, bar_chart
from services.dashboard import EquityReport, LocationDashboard

CHART_SERIES = 9
DASHBOARD_CHARTS = ("doses", "capacity", "no-shows", "stock")  # each figure's key and CSV name
DIMENSION_NAMES = {
    "race": N_("Race"),
    "ethnicity": N_("Ethnicity"),
    "age_band": N_("Age band"),
    "sex": N_("Sex"),
    "county": N_("County"),
}
CATEGORY_NAMES = {
    "race": dict(RACES),
    "ethnicity": dict(ETHNICITIES),
    "sex": dict(SEXES),
}


@dataclass(frozen=True)
class Figure:
    key: str  # its section id and CSV name
    title: str
    svg: str
    headings: list[str]
    rows: list[list[Any]]  # date, int, float (a percentage) or str cells

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.headings)
        for row in self.rows:
            writer.writerow([cell.isoformat() if isinstance(cell, date) else cell for cell in row])
        return out.getvalue()

    def cells(self) -> list[list[str]]:
        """The rows as the page's table shows them (dates in the page's language)."""
        return [[long_day(c) if isinstance(c, date) else _number(c) for c in row] for row in self.rows]


def _number(cell: Any) -> str:
    if isinstance(cell, float):
        return f"{cell:.1f} %"
    return str(cell)


def short_day(day: date) -> str:
    """ "Mon 7 Dec" / "lun 7 dic": a chart's axis label (unique within a year)."""
    return format_date(day, "EEE d MMM", locale=i18n.BABEL_LOCALE[i18n.current_language()])


def long_day(day: date) -> str:
    return format_date(day, "medium", locale=i18n.BABEL_LOCALE[i18n.current_language()])


def week_label(day: date) -> str:
    return gettext(
        "Week of %(date)s", date=format_date(day, "d MMM", locale=i18n.BABEL_LOCALE[i18n.current_language()])
    )


def doses_figure(board: LocationDashboard, names: dict[str, str]) -> Figure:
    products = [names.get(code, code) for code in board.products]
    day, doses, product = gettext("Day"), gettext("Doses"), gettext("Product")
    chart_rows = [
        {"day": short_day(d.day), "product": names.get(code, code), "doses": n}
        for d in board.doses
        for code, n in d.by_product.items()
    ]
    svg = bar_chart(
        chart_rows,
        x=Axis("day", day, [short_day(d.day) for d in board.doses]),
        y=Axis("doses", doses),
        color=Axis("product", product, products) if products else None,
    )
    rows = [[d.day, *(d.by_product[code] for code in board.products), d.total] for d in board.doses]
    return Figure(
        "doses", gettext("Doses given per day, last 8 weeks"), svg, [day, *products, gettext("Total")], rows
    )


def capacity_figure(board: LocationDashboard) -> Figure:
    day, seats = gettext("Day"), gettext("Seats")
    kinds = [("booked", gettext("Booked")), ("held", gettext("Held")), ("free", gettext("Free"))]
    chart_rows = [
        {"day": short_day(c.day), "kind": label, "seats": getattr(c, key)}
        for c in board.capacity
        for key, label in kinds
    ]
    svg = bar_chart(
        chart_rows,
        x=Axis("day", day, [short_day(c.day) for c in board.capacity]),
        y=Axis("seats", seats),
        color=Axis("kind", gettext("Status"), [label for _, label in kinds]),
    )
    rows = [[c.day, c.capacity, c.booked, c.held, c.free] for c in board.capacity]
    headings = [day, gettext("Capacity"), *(label for _, label in kinds)]
    return Figure("capacity", gettext("Bookings against capacity, next 14 days"), svg, headings, rows)


def no_show_figure(board: LocationDashboard) -> Figure:
    week, rate = gettext("Week"), gettext("No-show rate (%)")
    chart_rows = [{"week": week_label(w.week), "rate": w.rate} for w in board.no_shows]
    svg = bar_chart(
        chart_rows, x=Axis("week", week, [week_label(w.week) for w in board.no_shows]), y=Axis("rate", rate)
    )
    rows = [[w.week, w.appointments, w.missed, w.rate] for w in board.no_shows]
    headings = [gettext("Week of"), gettext("Appointments due"), gettext("Missed"), rate]
    return Figure("no-shows", gettext("No-show rate per week"), svg, headings, rows)


def stock_figure(board: LocationDashboard, names: dict[str, str]) -> Figure:
    product, doses = gettext("Product"), gettext("Doses")
    kinds = [("on_hand", gettext("On hand")), ("booked", gettext("Booked, next 14 days"))]
    chart_rows = [
        {"product": names.get(s.product_code, s.product_code), "kind": label, "doses": getattr(s, key)}
        for s in board.stock
        for key, label in kinds
    ]
    svg = bar_chart(
        chart_rows,
        x=Axis("product", product, [names.get(s.product_code, s.product_code) for s in board.stock]),
        y=Axis("doses", doses),
        color=Axis("kind", gettext("Stock or demand"), [label for _, label in kinds]),
        grouped=True,
    )
    rows = [
        [names.get(s.product_code, s.product_code), s.on_hand, s.booked, s.short_by, s.expiring]
        for s in board.stock
    ]
    headings = [
        product,
        gettext("On hand"),
        gettext("Booked, next 14 days"),
        gettext("Short by"),
        gettext("Expiring within 30 days"),
    ]
    return Figure("stock", gettext("Stock on hand against booked demand"), svg, headings, rows)


def dashboard_figures(board: LocationDashboard, names: dict[str, str]) -> list[Figure]:
    return [
        doses_figure(board, names),
        capacity_figure(board),
        no_show_figure(board),
        stock_figure(board, names),
    ]


def category_name(dimension: str, category: str) -> str:
    if category == UNKNOWN:
        return gettext("Unknown")
    known = CATEGORY_NAMES.get(dimension, {})
    return gettext(known[category]) if category in known else category


def equity_figure(report: EquityReport) -> Figure:
    dimension = gettext(DIMENSION_NAMES[report.dimension])
    week, doses = gettext("Week"), gettext("Doses")
    labels = [category_name(report.dimension, c) for c in report.categories]
    # Past CHART_SERIES groups (counties across the state) the chart adds up the rest as one
    # series; the table and the CSV keep every group.
    drawn, rest = labels[: CHART_SERIES - 1], report.categories[CHART_SERIES - 1 :]
    if len(rest) == 1:
        drawn, rest = labels, []
    other = gettext("All others")
    chart_rows = []
    for i, w in enumerate(report.weeks):
        for c, label in zip(report.categories, drawn, strict=False):
            chart_rows.append({"week": week_label(w), "category": label, "doses": report.doses(i, c)})
        if rest:
            chart_rows.append(
                {"week": week_label(w), "category": other, "doses": sum(report.doses(i, c) for c in rest)}
            )
    series = drawn + ([other] if rest else [])
    svg = bar_chart(
        chart_rows,
        x=Axis("week", week, [week_label(w) for w in report.weeks]),
        y=Axis("doses", doses),
        color=Axis("category", dimension, series) if series else None,
    )
    rows = [
        [w, *(report.doses(i, c) for c in report.categories), report.week_total(i)]
        for i, w in enumerate(report.weeks)
    ]
    title = gettext("Doses per week by %(dimension)s", dimension=dimension.lower())
    return Figure(
        f"equity-{report.dimension}", title, svg, [gettext("Week of"), *labels, gettext("Total")], rows
    )
