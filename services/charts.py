"""Charts drawn on the server: a Vega-Lite spec (built with altair) rendered to SVG by
vl-convert, so pages need no JavaScript and tests can read every bar's numbers back from the
SVG (each mark carries an aria-label such as "Day: 1 Dec; Doses: 3; Product: Pfizer-BioNTech").

Shared by every report that draws a chart (the dashboard, the programme report, the help-desk
reports): build the rows and the translated titles, call `bar_chart`, put the SVG in the page
beside a table of the same numbers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import altair as alt
import vl_convert

# A palette that keeps 3:1 contrast against white for every series (WCAG non-text contrast).
PALETTE = ("#1f5fa8", "#b3541e", "#2e7d32", "#6a3d9a", "#8c6d1f", "#c2185b", "#00695c", "#5d4037")
WIDTH, HEIGHT = 560, 220


@dataclass(frozen=True)
class Axis:
    """A field of the chart's rows and the title it is shown with (already translated)."""

    field: str
    title: str
    order: Sequence[str] | None = None  # categories in this order (days, weeks, bands)


def bar_chart(
    rows: Sequence[Mapping[str, Any]],
    *,
    x: Axis,
    y: Axis,
    color: Axis | None = None,
    grouped: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Bars of y per x, stacked by color (or side by side when `grouped`), as an SVG document.
    Rows whose y is 0 draw nothing and are left out (the table beside the chart keeps them)."""
    values = [dict(row) for row in rows if row.get(y.field)]
    # Each bar's accessible description names its axes once (screen readers skip the SVG for
    # the table beside it; tests and assistive tools reading the SVG get the numbers from this).
    for row in values:
        parts = [(x.title, row[x.field]), (y.title, row[y.field])]
        if color is not None:
            parts.append((color.title, row[color.field]))
        row["_description"] = "; ".join(f"{title}: {value}" for title, value in parts)
    encoding: dict[str, Any] = {
        # Every period on the axis, those with nothing too; crowded labels are thinned out.
        "x": alt.X(
            f"{x.field}:O",
            title=x.title,
            sort=list(x.order) if x.order else None,
            scale=alt.Scale(domain=list(x.order)) if x.order else alt.Undefined,
            axis=alt.Axis(labelOverlap="parity", labelAngle=-90),
        ),
        "y": alt.Y(f"{y.field}:Q", title=y.title),
        "description": alt.Description("_description:N"),
    }
    if color is not None:
        domain = list(color.order) if color.order else sorted({str(v[color.field]) for v in values})
        encoding["color"] = alt.Color(
            f"{color.field}:N",
            title=color.title,
            sort=domain,
            scale=alt.Scale(domain=domain, range=list(PALETTE)),
            legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
        )
        if grouped:
            encoding["xOffset"] = alt.XOffset(f"{color.field}:N", sort=domain)
    else:
        encoding["color"] = alt.value(PALETTE[0])
    chart = (
        alt.Chart(alt.Data(values=values))  # type: ignore[no-untyped-call]
        .mark_bar()
        .encode(**encoding)
        .properties(width=width, height=height, background="white")
        .configure_axis(labelColor="#222", titleColor="#222", labelFontSize=11, titleFontSize=12)
        .configure_legend(labelColor="#222", titleColor="#222", labelFontSize=11, titleFontSize=12)
    )
    return render_svg(json.dumps(chart.to_dict(), sort_keys=True, default=str))


@lru_cache(maxsize=256)
def render_svg(spec_json: str) -> str:
    """The SVG of a Vega-Lite spec; the same numbers draw the same chart, so it is kept."""
    return str(vl_convert.vegalite_to_svg(json.loads(spec_json)))
