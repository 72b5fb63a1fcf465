"""The location manager's dashboard and the programme report, built from known events: every
chart's numbers read back from its SVG (each bar's aria-label) and from its CSV download, in
English and Spanish; product names, never codes; who may see which scope."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from datetime import date
from typing import Any

from babel.dates import format_date

from domain.reporting import week_start
from records.db import transaction
from records.users import User
from tests.conftest import login
from tests.dashboard_data import build
from tests.inventory import _password_hash, headers_for
from tests.journeys import book, new_recipients

HTML = {"Accept": "text/html"}


def section(page: str, key: str) -> str:
    found = re.search(rf'<section class="figure" id="{key}".*?</section>', page, re.S)
    assert found, f"no {key} figure on the page"
    return found.group(0)


def bars(figure: str) -> list[dict[str, str]]:
    """Every bar of a figure's SVG as {axis title: value} from its aria-label."""
    svg = figure[figure.index("<svg") : figure.index("</svg>")]
    found = re.findall(r'aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="bar"', svg)
    labels = [html.unescape(label) for label in found]
    return [dict(part.split(": ", 1) for part in label.split("; ")) for label in labels]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def short_day(day: date, locale: str = "en_US") -> str:
    return format_date(day, "EEE d MMM", locale=locale)


async def _names(api: Any, headers: dict[str, str], *codes: str) -> list[str]:
    products = (await api.get("/products", headers=headers)).json()
    by_code = {
        p["code"]: p["name"] for p in (products if isinstance(products, list) else products["products"])
    }
    return [by_code[c] for c in codes]


async def test_the_dashboard_shows_the_known_events_in_its_charts_tables_and_csv(api, sessions):
    known = await build(sessions)
    manager = await headers_for(api, known.site.manager)
    first, second = await _names(api, manager, known.first, known.second)

    shown = await api.get("/portal/dashboard", headers={**manager, **HTML})
    assert shown.status_code == 200, shown.text
    page = shown.text
    assert known.first not in page and known.second not in page, "products are shown by name"
    assert re.search(r'id="waitlist-length"><span class="big">2</span>', page)

    # Doses per day: 3 + 4 yesterday, 2 ten days ago; the removed dose does not count.
    doses = bars(section(page, "doses"))
    assert {"Day": short_day(known.yesterday), "Doses": "3", "Product": first} in doses
    assert {"Day": short_day(known.yesterday), "Doses": "4", "Product": second} in doses
    assert {"Day": short_day(known.ten_days_ago), "Doses": "2", "Product": first} in doses
    assert len(doses) == 3
    rows = {
        row["Day"]: row
        for row in read_csv((await api.get("/portal/dashboard/doses.csv", headers=manager)).text)
    }
    assert len(rows) == 56
    assert rows[known.yesterday.isoformat()] == {
        "Day": known.yesterday.isoformat(),
        first: "3",
        second: "4",
        "Total": "7",
    }
    assert rows[known.ten_days_ago.isoformat()][first] == "2"
    assert rows[known.today.isoformat()]["Total"] == "0"

    # Bookings against capacity: tomorrow 3 booked, 1 held, 6 free; in three days full.
    capacity = {(b["Day"], b["Status"]): int(b["Seats"]) for b in bars(section(page, "capacity"))}
    assert capacity[(short_day(known.tomorrow), "Booked")] == 3
    assert capacity[(short_day(known.tomorrow), "Held")] == 1
    assert capacity[(short_day(known.tomorrow), "Free")] == 6
    assert capacity[(short_day(known.in_three_days), "Booked")] == 5
    assert (short_day(known.in_three_days), "Free") not in capacity  # nothing free: no bar
    rows = {
        r["Day"]: r for r in read_csv((await api.get("/portal/dashboard/capacity.csv", headers=manager)).text)
    }
    assert len(rows) == 14
    assert rows[known.tomorrow.isoformat()] == {
        "Day": known.tomorrow.isoformat(),
        "Capacity": "10",
        "Booked": "3",
        "Held": "1",
        "Free": "6",
    }
    assert rows[known.in_three_days.isoformat()]["Free"] == "0"

    # No-shows: last week 3 appointments due (the cancelled one left out), 1 missed.
    week_label = f"Week of {format_date(known.last_week, 'd MMM', locale='en_US')}"
    assert {"Week": week_label, "No-show rate (%)": "33.3"} in bars(section(page, "no-shows"))
    rows = {
        r["Week of"]: r
        for r in read_csv((await api.get("/portal/dashboard/no-shows.csv", headers=manager)).text)
    }
    assert rows[known.last_week.isoformat()] == {
        "Week of": known.last_week.isoformat(),
        "Appointments due": "3",
        "Missed": "1",
        "No-show rate (%)": "33.3",
    }

    # Stock against demand: 15 usable doses of the first product (10 expire within 30 days; the
    # expired lot does not count) against 3 booked; the second has 5 booked and none on hand.
    stock = bars(section(page, "stock"))
    assert {"Product": first, "Doses": "15", "Stock or demand": "On hand"} in stock
    assert {"Product": first, "Doses": "3", "Stock or demand": "Booked, next 14 days"} in stock
    rows = {
        r["Product"]: r
        for r in read_csv((await api.get("/portal/dashboard/stock.csv", headers=manager)).text)
    }
    assert rows[first] == {
        "Product": first,
        "On hand": "15",
        "Booked, next 14 days": "3",
        "Short by": "0",
        "Expiring within 30 days": "10",
    }
    assert rows[second]["Short by"] == "5"
    assert re.search(rf"<td>DASH-A-\w+</td><td>{re.escape(first)}</td>", page), "the expiring lot is listed"
    assert "DASH-B-" not in page and "DASH-C-" not in page

    # The JSON beside the page has the same numbers.
    board = (await api.get("/reports/dashboard", headers=manager)).json()
    assert board["waitlist"] == 2
    assert next(d for d in board["doses_per_day"] if d["date"] == known.yesterday.isoformat())["total"] == 7

    # A booking made through the API (a journey workflow) shows at once: 4 booked, 5 free.
    (recipient_id,) = await new_recipients(sessions, 1)
    assert (await book(api, manager, recipient_id, known.tomorrow_slot)).status_code == 201
    rows = {
        r["Day"]: r for r in read_csv((await api.get("/portal/dashboard/capacity.csv", headers=manager)).text)
    }
    assert (rows[known.tomorrow.isoformat()]["Booked"], rows[known.tomorrow.isoformat()]["Free"]) == (
        "4",
        "5",
    )
    stock = (await api.get("/reports/dashboard", headers=manager)).json()["stock"]
    assert next(s for s in stock if s["product_code"] == known.first)["booked_next_14_days"] == 4


async def test_the_dashboard_in_spanish_draws_its_charts_in_spanish(api, sessions):
    known = await build(sessions)
    manager = await headers_for(api, known.site.manager)
    (first,) = await _names(api, manager, known.first)
    page = (await api.get("/portal/dashboard", headers={**manager, **HTML, "Cookie": "cvms_lang=es"})).text
    assert "Dosis administradas por día, últimas 8 semanas" in page
    doses = bars(section(page, "doses"))
    assert {"Día": short_day(known.yesterday, "es_US"), "Dosis": "3", "Producto": first} in doses
    spanish_csv = await api.get("/portal/dashboard/doses.csv", headers={**manager, "Cookie": "cvms_lang=es"})
    assert read_csv(spanish_csv.text)[-2]["Día"] == known.yesterday.isoformat()


async def test_the_programme_report_counts_doses_by_race_age_band_and_county(api, sessions):
    known = await build(sessions)
    manager = await headers_for(api, known.site.manager)
    this_week, week_of_ten = week_start(known.yesterday), week_start(known.ten_days_ago)

    async def csv_rows(by: str) -> dict[str, dict[str, str]]:
        got = await api.get(f"/portal/reports/equity.csv?by={by}&weeks=4", headers=manager)
        assert got.status_code == 200, got.text
        return {row["Week of"]: row for row in read_csv(got.text)}

    race = await csv_rows("race")
    assert len(race) == 4
    assert race[this_week.isoformat()]["White"] == "3"
    assert race[this_week.isoformat()]["Black or African American"] == "4"
    assert race[week_of_ten.isoformat()]["Unknown"] == "2"
    page = (await api.get("/portal/reports/equity?by=race&weeks=4", headers={**manager, **HTML})).text
    label = f"Week of {format_date(this_week, 'd MMM', locale='en_US')}"
    assert {"Week": label, "Doses": "4", "Race": "Black or African American"} in bars(
        section(page, "equity-race")
    )

    county = await csv_rows("county")
    assert int(county[this_week.isoformat()]["Durham County, NC"]) == 5
    assert sum(int(r.get("Orange County, NC", 0)) for r in county.values()) == 4

    ages = await csv_rows("age_band")
    assert list(ages[this_week.isoformat()])[1:-1] == ["0-17", "18-24", "25-49", "50-64", "65-74", "75+"]
    assert int(ages[this_week.isoformat()]["25-49"]) == 5
    assert sum(int(r["65-74"]) for r in ages.values()) == 4
    assert sum(int(r["Total"]) for r in ages.values()) == 9

    # Spanish names the groups in Spanish.
    spanish = await api.get(
        "/portal/reports/equity.csv?by=ethnicity&weeks=4", headers={**manager, "Cookie": "cvms_lang=es"}
    )
    assert spanish.text.splitlines()[0].startswith("Semana del,")

    # A bad dimension is refused with a code and changes nothing.
    bad = await api.get("/reports/equity?by=shoe_size", headers=manager)
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_dimension"


async def test_only_managers_and_administrators_see_reports_and_only_an_administrator_across_locations(
    api, sessions
):
    known = await build(sessions)
    provider = await headers_for(api, known.site.provider)
    for address in ("/reports/dashboard", "/reports/equity", "/portal/dashboard/doses.csv"):
        assert (await api.get(address, headers=provider)).status_code == 403
    manager = await headers_for(api, known.site.manager)
    assert (await api.get("/reports/equity", headers=manager)).json()["location_code"] == known.site.code

    login_name = f"admin.{uuid.uuid4().hex[:6]}"
    async with transaction(sessions) as db:
        db.add(
            User(
                login_name=login_name,
                email=f"{login_name}@cvms.test",
                first_name="Ada",
                last_name="Admin",
                password_hash=_password_hash(),
                is_admin=True,
            )
        )
    admin = await login(api, login_name)
    across = (await api.get("/reports/equity?by=sex&weeks=4", headers=admin)).json()
    assert across["location_code"] is None
    here = (await api.get(f"/reports/equity?by=sex&weeks=4&location={known.site.code}", headers=admin)).json()
    assert sum(w["total"] for w in here["weeks"]) == 9
    assert sum(w["total"] for w in across["weeks"]) >= 9
    page = await api.get("/portal/reports/equity?by=county", headers={**admin, **HTML})
    assert page.status_code == 200 and "Programme report: doses at all locations" in page.text
    assert (await api.get("/reports/equity?location=NOPE", headers=admin)).status_code == 404


async def test_the_inventory_page_shows_each_days_bookings_under_booked_not_the_running_total(api, sessions):
    known = await build(sessions)
    manager = await headers_for(api, known.site.manager)
    (second,) = await _names(api, manager, known.second)
    page = (await api.get("/portal/inventory", headers={**manager, **HTML})).text
    table = re.search(r'<table class="list" id="demand".*?</table>', page, re.S).group(0)
    row = re.search(rf'<th scope="row">{re.escape(second)}</th>(.*?)</tr>', table, re.S)
    assert row, "the demand table names the product, not its code"
    booked = [int(n) for n in re.findall(r"(\d+) booked", row.group(1))]
    # Today, tomorrow, the day after: nothing; in three days 5; nothing after (not "5" again).
    assert booked == [0, 0, 0, 5, 0, 0, 0]
    assert "short by 5" in row.group(1)  # from that day on the bookings exceed the stock (none)
