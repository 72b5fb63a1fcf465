"""The front desk's and the scheduler's homes, over HTTP on the real stack: today's appointments
at the active location with check-in inline, one search box for a name, phone or date of birth,
the recipient's next step in the series, the slots calendar (day, week, product filter, seats
used and free), and "book another time" after a recipient cancels through their link."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from jinja2 import meta
from sqlalchemy import select

from api.pages.pickers import phone_link, phone_text
from domain.dose_rules import next_dose_window
from domain.journey_messages import LINK_APPOINTMENT
from domain.refusals import Invalid
from domain.security import sign_link
from notifications.render import TEMPLATES, _environment, render
from records.db import transaction, utcnow
from records.products import Product
from records.recipients import Recipient
from services.front_desk import Lookup, read_lookup
from tests.conftest import login
from tests.inventory import Site, headers_for, new_site
from tests.journeys import add_lot, book, document, new_product, portal_form, publish_slot, unique
from tests.test_helpdesk import open_case, register_requester
from tests.test_portal_paging import _team_of_its_own
from tests.test_recipient_link_pages import page_form

HTML = {"Accept": "text/html"}
ZONE = ZoneInfo("America/New_York")  # every test site's zone


def test_one_search_box_reads_a_name_a_phone_or_a_date_of_birth():
    assert read_lookup("Lucía Alvarado") == Lookup(name="Lucía Alvarado")
    assert read_lookup("(919) 555-0142") == Lookup(phone="(919) 555-0142")
    assert read_lookup("1975-06-30") == Lookup(date_of_birth=date(1975, 6, 30))
    assert read_lookup("6/30/1975") == Lookup(date_of_birth=date(1975, 6, 30))
    assert read_lookup("lucia alvarado 6/30/1975") == Lookup(
        name="lucia alvarado", date_of_birth=date(1975, 6, 30)
    )
    with pytest.raises(Invalid) as refused:
        read_lookup("lucia 13/45/1975")
    assert refused.value.extra["errors"][0]["field"] == "q"


def test_phone_numbers_are_formatted_with_a_tap_to_call_address():
    assert phone_text("9195550142") == "(919) 555-0142"
    assert phone_text("+44 20 7946 0958") == "+44 20 7946 0958"
    assert phone_link("919.555.0142") == "tel:+1-919-555-0142"
    assert phone_text("ext. 12") == "ext. 12" and phone_link("ext. 12") == ""


def seconds_into_today(wanted: float = 900) -> float:
    """A start that is still today at the site (the test may run just before local midnight)."""
    now = utcnow().astimezone(ZONE)
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=ZONE)
    return max(5.0, min(wanted, (midnight - now).total_seconds() / 2))


async def recipient_with_phone(sessions, phone: str) -> Recipient:
    async with transaction(sessions) as db:
        last = unique("Desk")
        recipient = Recipient(
            first_name="Marisol",
            last_name=last,
            date_of_birth=date(1982, 3, 14),
            sex="female",
            phone=phone,
            email=f"{last.lower()}@recipients.test",
        )
        recipient.refresh_search_keys()
        db.add(recipient)
        await db.flush()
        return recipient


async def booked_today(api, sessions) -> tuple[Site, dict, str, Recipient, dict]:
    """A site of the test's own with one appointment today: the site, its manager's headers,
    the product, the recipient and the appointment."""
    site = await new_site(sessions)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    recipient = await recipient_with_phone(sessions, "9195550123")
    slot = await publish_slot(api, manager, start_in=seconds_into_today(), length=600, product=product)
    booked = await book(api, manager, recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    return site, manager, product, recipient, booked.json()


async def product_of(sessions, code: str) -> Product:
    async with transaction(sessions) as db:
        return (await db.execute(select(Product).where(Product.code == code))).scalar_one()


async def product_name(sessions, code: str) -> str:
    return (await product_of(sessions, code)).name


async def test_the_front_desk_home_lists_today_here_with_check_in_inline(api, sessions, settings):
    site, manager, product, recipient, appointment = await booked_today(api, sessions)
    name = await product_name(sessions, product)
    home = await api.get("/portal", headers={**manager, **HTML})
    assert home.status_code == 200
    assert 'id="today-heading">Today' in home.text
    assert recipient.full_name in home.text and name in home.text and product not in home.text
    assert f'action="/portal/appointments/{appointment["id"]}/check-in"' in home.text
    assert f'href="/portal/recipients/{recipient.id}#document-heading"' in home.text

    checked = await api.post(
        f"/portal/appointments/{appointment['id']}/check-in", **portal_form(settings, manager, next="/portal")
    )
    assert checked.status_code == 303 and checked.headers["location"] == "/portal?notice=checked_in"
    again = await api.get(checked.headers["location"], headers={**manager, **HTML})
    assert "The recipient is checked in." in again.text and "status-checked_in" in again.text
    assert f'action="/portal/appointments/{appointment["id"]}/check-in"' not in again.text

    spanish = await api.get("/portal", headers={**manager, **HTML, "Cookie": "cvms_lang=es"})
    assert "Citas de hoy" in spanish.text and name in spanish.text


async def test_the_search_box_finds_by_phone_name_and_date_of_birth(api, sessions):
    site = await new_site(sessions)
    provider = await headers_for(api, site.provider)
    recipient = await recipient_with_phone(sessions, "9195550177")
    for typed in ("919-555-0177", f"marisol {recipient.last_name}", f"{recipient.last_name} 3/14/1982"):
        found = await api.get("/portal/recipients", params={"q": typed}, headers={**provider, **HTML})
        assert found.status_code == 200, typed
        assert f'href="/portal/recipients/{recipient.id}"' in found.text, typed
    by_phone = await api.get("/portal/recipients", params={"q": "919-555-0177"}, headers={**provider, **HTML})
    assert '<a href="tel:+1-919-555-0177">(919) 555-0177</a>' in by_phone.text

    bad = await api.get("/portal/recipients", params={"q": "marisol 2/30/1982"}, headers={**provider, **HTML})
    assert bad.status_code == 422 and 'id="e-q"' in bad.text
    assert "Enter the date of birth as 1975-06-30 or 6/30/1975." in bad.text
    short = await api.get("/portal/recipients", params={"q": "m"}, headers={**provider, **HTML})
    assert short.status_code == 422 and "Enter at least two letters of the name." in short.text


async def test_the_recipient_page_says_the_series_next_step(api, sessions, settings):
    site, manager, product, recipient, appointment = await booked_today(api, sessions)
    name = await product_name(sessions, product)
    page = await api.get(f"/portal/recipients/{recipient.id}", headers={**manager, **HTML})
    assert 'id="next-step"' in page.text and "dose 1 (no dose is recorded yet)." in page.text

    lot = await add_lot(sessions, product, location=site.code)
    given = await document(api, manager, recipient.id, product=product, lot=lot)
    assert given.status_code == 201, given.text
    given_at = datetime.fromisoformat(given.json()["given_at"])
    rule = (await product_of(sessions, product)).rule()
    window = next_dose_window(rule, given_at, settings.day_seconds)
    earliest = format_date(window.earliest.astimezone(ZONE).date(), "long", locale="en_US")
    latest = format_date(window.recommended_latest.astimezone(ZONE).date(), "long", locale="en_US")
    page = await api.get(f"/portal/recipients/{recipient.id}", headers={**manager, **HTML})
    assert f"dose 2 of {name} due from {earliest}, recommended by {latest}" in page.text
    assert 'href="#book-heading">book it</a>' in page.text


async def test_the_slots_calendar_shows_a_day_or_a_week_of_one_product_with_seats_used(api, sessions):
    site = await new_site(sessions)
    manager = await headers_for(api, site.manager)
    first, second = await new_product(sessions), await new_product(sessions)
    shown_slot = await publish_slot(api, manager, start_in=seconds_into_today(), capacity=5, product=first)
    other = await publish_slot(api, manager, start_in=seconds_into_today(), capacity=3, product=second)
    recipient = await recipient_with_phone(sessions, "9195550199")
    assert (await book(api, manager, recipient.id, shown_slot["id"])).status_code == 201
    today = utcnow().astimezone(ZONE).date()

    week = await api.get("/portal/slots", headers={**manager, **HTML})
    assert week.text.count('class="slot-day"') == 7
    assert "1 of 8 seats used, 7 free" in week.text
    next_week = (today + timedelta(days=7)).isoformat()
    assert f'href="/portal/slots?view=week&amp;day={next_week}" rel="next"' in week.text

    only = await api.get(f"/portal/slots?view=day&day={today}&product={first}", headers={**manager, **HTML})
    assert only.text.count('class="slot-day"') == 1
    assert (
        f"/portal/slots/{shown_slot['id']}/close" in only.text
        and f"/portal/slots/{other['id']}/close" not in only.text
    )
    assert "1 of 5 seats used, 4 free" in only.text
    assert await product_name(sessions, first) in only.text
    yesterday = (today - timedelta(days=1)).isoformat()
    assert f'href="/portal/slots?view=day&amp;day={yesterday}&amp;product={first}" rel="prev"' in only.text


async def test_a_recipient_who_cancels_is_offered_another_time_on_the_same_page(api, sessions, settings):
    site, manager, product, recipient, appointment = await booked_today(api, sessions)
    token = sign_link(
        settings.secret_key, LINK_APPOINTMENT, {"a": appointment["id"], "j": appointment["journey_id"]}
    )
    cancelled = await api.post(
        f"/r/appointments/{token}/cancel", **page_form(settings, lang="en", confirmed="yes")
    )
    assert cancelled.status_code == 303
    page = await api.get(cancelled.headers["location"], headers=HTML)
    assert "Your appointment is cancelled." in page.text and 'id="book-again"' in page.text
    rebook = page.text.split('id="book-again"')[1].split('href="')[1].split('"')[0]
    booking = await api.get(rebook, headers=HTML)
    assert booking.status_code == 200 and "Book dose 1" in booking.text


RECIPIENT_MAIL = (
    "appointment_confirmed",
    "reminder",
    "rescheduled",
    "cancelled",
    "missed",
    "dose2_due",
    "dose2_overdue",
    "series_complete",
    "waitlist_offer",
)


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("template", RECIPIENT_MAIL)
def test_a_recipient_email_has_a_styled_button_for_its_action_and_keeps_its_plain_text(template, lang):
    names: set[str] = set()
    for part in (f"{lang}/{template}.html", f"{lang}/{template}.txt", f"{lang}/{template}.subject.txt"):
        source = (TEMPLATES / part).read_text()
        names |= meta.find_undeclared_variables(_environment(True).parse(source))
    context = {name: "2026-12-27T15:00:00+00:00" for name in names if name != "button"}
    url_name = next(n for n in names if n.endswith("_url"))
    context[url_name] = "https://cvms.example/r/x/TOKEN"
    mail = render(template, lang, {**context, "time_zone": "America/New_York"})
    button = re.search(r'<a href="https://cvms.example/r/x/TOKEN" style="([^"]+)">([^<]+)</a>', mail.html)
    assert button, mail.html
    assert "background:#0b4f8a" in button.group(1) and "color:#ffffff" in button.group(1)
    assert "https://cvms.example/r/x/TOKEN" in mail.text and "<" not in mail.text.replace("<=", "")


async def test_the_next_step_of_a_scheduled_product_comes_from_its_schedule(api, sessions):
    provider = await login(api, "provider")
    recipient = await recipient_with_phone(sessions, "9195550166")
    lot = await add_lot(sessions, "pfizer")
    given = await document(api, provider, recipient.id, product="pfizer", lot=lot)
    assert given.status_code == 201, given.text
    page = await api.get(f"/portal/recipients/{recipient.id}", headers={**provider, **HTML})
    step = page.text.split('id="next-step"')[1].split("</div>")[0]
    assert "dose 2 of " in step and "due from " in step and "recommended by " in step
    assert (await product_name(sessions, "pfizer")) in step and "pfizer" not in step


async def test_the_help_desk_queue_names_a_priority_never_its_code(api, smtp, sessions):
    login_name, category, topic = await _team_of_its_own(sessions)
    _email, requester = await register_requester(api, smtp)
    case = await open_case(api, requester, category=category, topic=topic, subject="Priority words")
    agent = await login(api, login_name)
    queue = await api.get("/helpdesk/agent/queue", headers={**agent, **HTML})
    row = queue.text.split(f'/helpdesk/agent/cases/{case["number"]}"')[1].split("</tr>")[0]
    assert "<td>Normal</td>" in row and "<td>normal</td>" not in row
    page = await api.get(
        f"/helpdesk/agent/cases/{case['number']}", headers={**agent, **HTML, "Cookie": "cvms_lang=es"}
    )
    assert "<dd>Normal</dd>" in page.text
