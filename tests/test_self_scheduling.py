"""Booking oneself from the public finder: a location that allows it, a held seat, the same
registration checks as staff, a single-use emailed code, dose 1 booked in the series; nothing tells
a stranger whether an email is registered; the finder sorts by distance and is cacheable."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date

import httpx
import pytest
from limits import parse
from sqlalchemy import event, func, select

from api.app import create_app
from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from domain.refusals import Throttled
from records.db import transaction
from records.eligibility import MinimumAge
from records.holds import SeatHold
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.self_registrations import SelfRegistration
from records.waitlist import WaitlistEntry
from services import telemetry
from services.self_scheduling import SelfServiceLimits
from tests.inventory import headers_for, new_site, receive_lot
from tests.journeys import mail, new_product, publish_slot, text_of

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
NONCE = "self-scheduling-test-nonce"


def form(settings, lang: str = "en", **fields: object) -> dict:
    return {
        "data": {CSRF_FIELD: csrf_token(settings.secret_key, NONCE, None), **fields},
        "headers": {**BROWSER, "Cookie": f"{CSRF_COOKIE}={NONCE}; cvms_lang={lang}"},
    }


def person(email: str, **extra: str) -> dict[str, str]:
    return {
        "first_name": "Rosa",
        "last_name": f"Finder{uuid.uuid4().hex[:6]}",
        "date_of_birth": "1980-04-02",
        "sex": "female",
        "email": email,
        "phone": "919-555-0142",
        "postal_code": "27701",
        "preferred_language": "es",
        **extra,
    }


async def self_service_site(api, sessions, *, capacity: int = 3):
    site = await new_site(sessions, published=True)
    manager = await headers_for(api, site.manager)
    product = await new_product(sessions)
    await receive_lot(api, manager, product, 20)
    turned_on = await api.patch("/location/listing", json={"self_scheduling": True}, headers=manager)
    assert turned_on.status_code == 200 and turned_on.json()["self_scheduling"], turned_on.text
    slot = await publish_slot(api, manager, start_in=7200, length=900, capacity=capacity, product=product)
    return site, manager, slot


async def hold_and_register(api, settings, site, slot, fields: dict[str, str], lang: str = "en") -> str:
    """Chooses the time and sends the details; the address of the code page."""
    held = await api.post(f"/find/{site.code}/times", **form(settings, lang, slot_id=slot["id"]))
    assert held.status_code == 303, held.text
    registered = await api.post(held.headers["location"], **form(settings, lang, **fields))
    assert registered.status_code == 303, registered.text
    return registered.headers["location"]


def same_page(html: str) -> str:
    """A page without what differs by request: its own address and form token."""
    return re.sub(r'(/find/verify/[^"]+|value="[^"]*")', "", html)


def code_in(message) -> str:
    found = re.search(r"^(\d{6})\s*$", text_of(message), re.MULTILINE)
    assert found, text_of(message)
    return found.group(1)


async def test_a_person_books_dose_one_from_the_finder_with_a_code_used_once(api, sessions, settings, smtp):
    site, manager, slot = await self_service_site(api, sessions)
    listed = (await api.get("/public/locations")).json()
    mine = next(loc for loc in listed if loc["code"] == site.code)
    assert mine["self_scheduling"] is True

    times = await api.get(f"/find/{site.code}/times?lang=es", headers=BROWSER)
    assert times.status_code == 200 and "Reservar una vacuna" in times.text
    email = f"rosa.{uuid.uuid4().hex[:8]}@example.org"
    fields = person(email)

    # Bad input: said beside the field, nothing is kept or sent.
    held = await api.post(f"/find/{site.code}/times", **form(settings, slot_id=slot["id"]))
    register_at = held.headers["location"]
    bad = await api.post(register_at, **form(settings, **{**fields, "date_of_birth": "2999-01-01"}))
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    async with transaction(sessions) as db:  # the seat was held meanwhile
        holds = (await db.execute(select(SeatHold).where(SeatHold.slot_id == slot["id"]))).scalars().all()
        assert [h.held_by.split(":")[0] for h in holds] == ["self-registration"]

    sent = await api.post(register_at, **form(settings, **fields))
    assert sent.status_code == 303, sent.text
    verify_at = sent.headers["location"]
    message = await mail(smtp, email, site.code[2:])
    code = code_in(message)
    assert f"{verify_at}?code={code}" in text_of(message)

    wrong = await api.post(verify_at, **form(settings, code="000000" if code != "000000" else "111111"))
    assert wrong.status_code == 422 and "this code is not right" in wrong.text
    booked = await api.post(verify_at, **form(settings, code=code))
    assert booked.status_code == 303 and booked.headers["location"].startswith("/find/booked/")
    page = await api.get(booked.headers["location"], headers=BROWSER)
    assert page.status_code == 200 and 'id="dose2"' in page.text and "/r/appointments/" in page.text

    async with transaction(sessions) as db:
        row = (await db.execute(select(Appointment).where(Appointment.slot_id == slot["id"]))).scalar_one()
        assert row.dose_number == 1 and row.booked_by == "self-registration"
        held_slot = await db.get(Slot, slot["id"])
        assert (held_slot.booked, held_slot.held) == (1, 0)  # the held seat became the booking
        recipient = await db.get(Recipient, row.recipient_id)
        assert recipient.email == email and recipient.created_by is None

    # The code works once: a second use books nothing more.
    again = await api.post(verify_at, **form(settings, code=code))
    assert again.status_code == 303 and again.headers["location"].startswith("/find/booked/")
    async with transaction(sessions) as db:
        count = await db.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot["id"])
        )
        assert count == 1


async def test_an_existing_email_is_never_revealed_and_is_matched_only_once_proven(
    api, sessions, settings, smtp
):
    site, manager, slot = await self_service_site(api, sessions)
    email = f"known.{uuid.uuid4().hex[:8]}@example.org"
    fields = person(email)
    async with transaction(sessions) as db:
        known = Recipient(
            first_name=fields["first_name"],
            last_name=fields["last_name"],
            date_of_birth=date(1980, 4, 2),
            sex="female",
            email=email,
            phone="9195550000",
        )
        known.refresh_search_keys()
        db.add(known)
        await db.flush()
        known_id = known.id
    stranger = person(f"new.{uuid.uuid4().hex[:8]}@example.org")

    # Registered and unknown emails get the same answer: a redirect to a code page, one email each.
    answers = []
    for details in (fields, stranger):
        held = await api.post(f"/find/{site.code}/times", **form(settings, slot_id=slot["id"]))
        sent = await api.post(held.headers["location"], **form(settings, **details))
        page = await api.get(sent.headers["location"], headers=BROWSER)
        answers.append((sent.status_code, page.status_code, page.text.replace(details["email"], "EMAIL")))
    assert answers[0][:2] == answers[1][:2] == (303, 200)
    assert same_page(answers[0][2]) == same_page(answers[1][2])
    assert "Finder" not in answers[0][2] and "555" not in answers[0][2]  # nothing of the record is shown

    # Proven: the existing record is used, not a duplicate.
    message = await mail(smtp, email, site.code[2:])
    verify_at = re.search(r"(/find/verify/[^?\s]+)\?code=", text_of(message)).group(1)
    booked = await api.post(verify_at, **form(settings, code=code_in(message)))
    assert booked.status_code == 303, booked.text
    async with transaction(sessions) as db:
        row = (await db.execute(select(Appointment).where(Appointment.slot_id == slot["id"]))).scalar_one()
        assert row.recipient_id == known_id
        same = await db.scalar(
            select(func.count()).select_from(Recipient).where(Recipient.email_key == email)
        )
        assert same == 1


async def test_per_email_limit_and_a_location_that_does_not_allow_it(api, sessions, settings, smtp):
    site, manager, slot = await self_service_site(api, sessions, capacity=10)
    email = f"busy.{uuid.uuid4().hex[:8]}@example.org"
    statuses = []
    for _ in range(parse(settings.self_registration_per_email).amount + 1):
        held = await api.post(f"/find/{site.code}/times", **form(settings, slot_id=slot["id"]))
        sent = await api.post(held.headers["location"], **form(settings, **person(email)))
        statuses.append(sent.status_code)
    assert statuses[:-1] == [303] * (len(statuses) - 1) and statuses[-1] == 429

    await api.patch("/location/listing", json={"self_scheduling": False}, headers=manager)
    assert (await api.get(f"/find/{site.code}/times", headers=BROWSER)).status_code == 404
    refused = await api.post(f"/find/{site.code}/times", **form(settings, slot_id=slot["id"]))
    assert refused.status_code == 404
    async with transaction(sessions) as db:
        live = await db.scalar(
            select(func.count())
            .select_from(SeatHold)
            .where(SeatHold.slot_id == slot["id"], SeatHold.status == "held")
        )
        assert (await db.get(Slot, slot["id"])).held == live


async def test_the_finder_sorts_by_distance_and_answers_304_to_its_etag(api, sessions):
    near = await new_site(sessions, published=True)
    far = await new_site(sessions, published=True)
    async with transaction(sessions) as db:
        from records.locations import Location

        (await db.get(Location, far.id)).address = "1 Ocean Ave, Wilmington, NC 28401"
    listed = await api.get("/public/locations?near=27705")
    assert listed.status_code == 200, listed.text
    codes = [loc["code"] for loc in listed.json()]
    assert codes.index(near.code) < codes.index(far.code)
    by_code = {loc["code"]: loc for loc in listed.json()}
    assert by_code[near.code]["distance_miles"] < 10 < by_code[far.code]["distance_miles"]
    by_city = [loc["code"] for loc in (await api.get("/public/locations?near=Wilmington, NC")).json()]
    assert by_city.index(far.code) < by_city.index(near.code)
    unknown = await api.get("/public/locations?near=Nowhereville")
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_place"

    assert "s-maxage=" in listed.headers["cache-control"]
    assert "stale-while-revalidate=" in listed.headers["cache-control"]
    # One location's answer (the list moves with other tests' bookings): the same ETag is a 304.
    first = await api.get(f"/public/locations/{near.code}")
    again = await api.get(f"/public/locations/{near.code}", headers={"If-None-Match": first.headers["etag"]})
    assert (
        again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    )

    page = await api.get("/find?near=27705", headers=BROWSER)
    # The location's phone formatted, as a tap-to-call address.
    assert page.status_code == 200 and '<a href="tel:+1-919-555-0100">(919) 555-0100</a>' in page.text


async def test_a_repeated_finder_question_is_answered_before_routing_without_sql(
    settings, temporal, sessions
):
    """A surge asks the finder the same question: the API process answers the repeats it kept
    (CVMS_FINDER_SERVER_CACHE_SECONDS) before routing, with the same bytes, ETag and headers, no
    database statement, and counts them under the route in the metrics."""
    await new_site(sessions, published=True)
    app = create_app(settings.model_copy(update={"finder_server_cache_seconds": 60}), temporal)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    served = telemetry.HTTP_REQUESTS.labels("/public/locations", "GET", "200")
    question = f"/public/locations?lang=es&near=27705&n={uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cvms.test"
    ) as client:
        first = await client.get(question)
        assert first.status_code == 200, first.text
        before = served._value.get()
        engine = app.state.sessions.kw["bind"].sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            repeats = [await client.get(question) for _ in range(5)]
            unchanged = await client.get(question, headers={"If-None-Match": first.headers["etag"]})
        finally:
            event.remove(engine, "before_cursor_execute", count)
            await app.state.sessions.kw["bind"].dispose()
    assert statements == []
    assert all(r.status_code == 200 and r.content == first.content for r in repeats)
    for name in ("etag", "cache-control", "content-type", "content-security-policy", "x-request-id"):
        assert repeats[-1].headers.get(name), name
    assert repeats[-1].headers["etag"] == first.headers["etag"]
    assert repeats[-1].headers["cache-control"] == first.headers["cache-control"]
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert served._value.get() - before == 5


async def test_one_address_may_start_only_so_many(settings):
    limits = SelfServiceLimits(settings.model_copy(update={"self_registration_per_address": "2/hour"}))
    address = f"203.0.113.{uuid.uuid4().int % 250}"
    await limits.address(address)
    await limits.address(address)
    with pytest.raises(Throttled) as refused:
        await limits.address(address)
    assert refused.value.code == "rate_limited" and refused.value.extra["retry_after_seconds"] > 0
    await limits.address("198.51.100.7")  # another address is not held back


async def test_a_person_too_young_is_told_why_and_nothing_is_sent(api, sessions, settings, smtp):
    site, _manager, slot = await self_service_site(api, sessions)
    async with transaction(sessions) as db:
        db.add(MinimumAge(product_code=slot["product_code"], years=18))
    email = f"young.{uuid.uuid4().hex[:8]}@example.org"
    held = await api.post(f"/find/{site.code}/times", **form(settings, slot_id=slot["id"]))
    refused = await api.post(
        held.headers["location"], **form(settings, **person(email, date_of_birth="2015-01-01"))
    )
    assert refused.status_code == 409 and 'data-code="too_young"' in refused.text
    async with transaction(sessions) as db:
        kept = select(func.count()).select_from(SelfRegistration).where(SelfRegistration.email_key == email)
        assert await db.scalar(kept) == 0
    assert not [m for m in smtp.messages if m["To"] == email]


async def test_a_crowd_for_the_last_seats_gets_exactly_the_seats(api, sessions, settings):
    site, _manager, slot = await self_service_site(api, sessions, capacity=2)
    answers = await asyncio.gather(
        *(api.post(f"/find/{site.code}/times", **form(settings, slot_id=slot["id"])) for _ in range(6))
    )
    assert sorted(a.status_code for a in answers) == [303, 303, 409, 409, 409, 409]
    async with transaction(sessions) as db:
        taken = await db.get(Slot, slot["id"])
        assert taken.booked + taken.held <= taken.capacity == 2


async def test_when_the_seats_are_gone_a_person_joins_the_waitlist_with_the_same_code(
    api, sessions, settings, smtp
):
    site, manager, slot = await self_service_site(api, sessions, capacity=1)
    # The one seat is taken: the waiting-room page offers the waitlist, which lists the product.
    taken = person(f"first.{uuid.uuid4().hex[:8]}@example.org")
    first_verify = await hold_and_register(api, settings, site, slot, taken)
    first_code = code_in(await mail(smtp, taken["email"], site.code[2:]))
    assert (await api.post(first_verify, **form(settings, code=first_code))).status_code == 303
    page = await api.get(f"/find/{site.code}/waitlist", headers=BROWSER)
    assert page.status_code == 200 and f'value="{slot["product_code"]}"' in page.text

    email = f"wait.{uuid.uuid4().hex[:8]}@example.org"
    fields = {**person(email), "product_code": slot["product_code"]}
    bad = await api.post(
        f"/find/{site.code}/waitlist", **form(settings, **{**fields, "product_code": "nope"})
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    sent = await api.post(f"/find/{site.code}/waitlist", **form(settings, **fields))
    assert sent.status_code == 303 and sent.headers["location"].startswith("/find/verify/"), sent.text
    verify_at = sent.headers["location"]
    code = code_in(await mail(smtp, email, site.code[2:]))
    joined = await api.post(verify_at, **form(settings, code=code))
    assert joined.status_code == 303 and joined.headers["location"].startswith("/find/booked/")
    shown = await api.get(joined.headers["location"], headers=BROWSER)
    assert shown.status_code == 200 and 'id="waitlisted"' in shown.text

    # Confirming again adds nobody twice; the staff's waitlist shows the person.
    again = await api.post(verify_at, **form(settings, code=code))
    assert again.status_code == 303 and again.headers["location"] == joined.headers["location"]
    async with transaction(sessions) as db:
        entries = (
            (await db.execute(select(WaitlistEntry).where(WaitlistEntry.location_id == site.id)))
            .scalars()
            .all()
        )
        assert [(e.product_code, e.status, e.added_by) for e in entries] == [
            (slot["product_code"], "waiting", "self-registration")
        ]
        recipient = await db.get(Recipient, entries[0].recipient_id)
        assert recipient.email == email
