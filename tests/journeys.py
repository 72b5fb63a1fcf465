"""Helpers shared by the journey tests: recipients, products, lots and slots made fast and unique."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from icalendar import Calendar
from sqlalchemy import select

from api.pages.csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from domain.journey_messages import journey_id
from records.db import transaction, utcnow
from records.inventory import EventKind, record_event
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import InventoryLot, Product
from records.recipients import Recipient
from records.scheduling import Appointment, Slot

LOT_EXPIRY = date(2031, 1, 31)


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def location_id(sessions: Any, code: str) -> int:
    async with transaction(sessions) as db:
        return (await db.execute(select(Location.id).where(Location.code == code))).scalar_one()


async def new_recipient(sessions: Any, *, language: str = "en", first_name: str = "Alex") -> Recipient:
    async with transaction(sessions) as db:
        last = unique("Tester")
        recipient = Recipient(
            first_name=first_name,
            last_name=last,
            date_of_birth=date(1970, 5, 17),
            sex="unknown",
            email=f"{last.lower()}@recipients.test",
            preferred_language=language,
        )
        recipient.refresh_search_keys()
        db.add(recipient)
        await db.flush()
        return recipient


async def new_recipients(sessions: Any, count: int) -> list[int]:
    async with transaction(sessions) as db:
        rows = []
        for _ in range(count):
            last = unique("Crowd")
            recipient = Recipient(
                first_name="Crowd",
                last_name=last,
                date_of_birth=date(1990, 1, 1),
                sex="unknown",
                email=f"{last.lower()}@recipients.test",
            )
            recipient.refresh_search_keys()
            rows.append(recipient)
        db.add_all(rows)
        await db.flush()
        return [r.id for r in rows]


async def new_product(
    sessions: Any, *, doses: int = 2, interval_days: int = 3, latest_days: int = 6, grace_days: int = 1
) -> str:
    """A product of the test's own (products are data), with short rules so a series is quick."""
    code = unique("testvax-")
    async with transaction(sessions) as db:
        db.add(
            Product(
                code=code,
                version=1,
                name=f"Testvax {code[-4:]}",
                doses=doses,
                interval_days=interval_days,
                recommended_latest_days=latest_days,
                grace_days=grace_days,
            )
        )
    return code


async def add_lot(
    sessions: Any,
    product_code: str,
    *,
    location: str = "WAKE-01",
    expires_on: date = LOT_EXPIRY,
    doses: int = 100,
) -> str:
    """A lot of the test's own that has received `doses` (documenting takes from it)."""
    lot_number = unique("LOT-").upper()
    loc = await location_id(sessions, location)
    async with transaction(sessions) as db:
        lot = InventoryLot(
            location_id=loc, product_code=product_code, lot_number=lot_number, expires_on=expires_on
        )
        db.add(lot)
        await db.flush()
        if doses:
            await record_event(db, lot, EventKind.received, doses, actor="test")
    return lot_number


async def publish_slot(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    start_in: float,
    length: float = 2.0,
    capacity: int = 5,
    product: str = "pfizer",
) -> dict[str, Any]:
    # Whole seconds, like real slots: calendar invites carry no fractions of a second.
    start = (utcnow() + timedelta(seconds=start_in)).replace(microsecond=0)
    response = await api.post(
        "/slots",
        json={
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(seconds=length)).isoformat(),
            "capacity": capacity,
            "product_code": product,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def book(
    api: httpx.AsyncClient, headers: dict[str, str], recipient_id: int, slot_id: int, **extra: Any
) -> httpx.Response:
    return await api.post(
        "/appointments",
        json={"recipient_id": recipient_id, "slot_id": slot_id, **extra},
        headers={**headers, "Idempotency-Key": unique("book-")},
    )


async def document(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    recipient_id: int,
    *,
    product: str,
    lot: str,
    given_at: datetime | None = None,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {
        "product_code": product,
        "lot_number": lot,
        "injection_site": "left_deltoid",
        "route": "intramuscular",
        **extra,
    }
    if given_at is not None:
        body["given_at"] = given_at.isoformat()
    return await api.post(f"/recipients/{recipient_id}/doses", json=body, headers=headers)


def mails_to(smtp: Any, address: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if m["To"] == address]


async def mail(smtp: Any, address: str, subject_part: str, timeout: float = 30) -> EmailMessage:
    """Waits for the one message to `address` whose subject contains `subject_part`."""
    found = await smtp.wait_for(
        lambda m: m["To"] == address and subject_part in str(m["Subject"]), timeout=timeout
    )
    assert len(found) == 1, [str(m["Subject"]) for m in found]
    return found[0]


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def invite_of(message: EmailMessage) -> dict[str, Any]:
    """METHOD, UID, SEQUENCE, DTSTART of the attached calendar invite."""
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    return {
        "method": str(calendar["METHOD"]),
        "uid": str(event["UID"]),
        "sequence": int(event["SEQUENCE"]),
        "start": event.decoded("DTSTART"),
        "status": str(event["STATUS"]),
        "content_type_method": part.get_params(),
    }


def link_token(message: EmailMessage, path: str) -> str:
    """The token of the first link to `/r/<path>/…` in the message's text."""
    text = text_of(message)
    marker = f"/r/{path}/"
    start = text.index(marker) + len(marker)
    return text[start:].split()[0]


async def foreign_records(sessions: Any) -> dict[str, int]:
    """A slot, appointment and dose at BUNC-02 (for the authorization test's 404 checks)."""
    bunc = await location_id(sessions, "BUNC-02")
    recipient = await new_recipient(sessions)
    async with transaction(sessions) as db:
        jid = journey_id(recipient.id, 1)
        db.add(
            Journey(id=jid, recipient_id=recipient.id, series_no=1, product_code="pfizer", product_version=1)
        )
        start = utcnow() + timedelta(days=3)
        slot = Slot(
            location_id=bunc,
            start_at=start,
            end_at=start + timedelta(minutes=15),
            capacity=3,
            booked=1,
            product_code="pfizer",
        )
        db.add(slot)
        await db.flush()
        appointment = Appointment(
            journey_id=jid,
            recipient_id=recipient.id,
            location_id=bunc,
            slot_id=slot.id,
            start_at=slot.start_at,
            end_at=slot.end_at,
            product_code="pfizer",
            dose_number=1,
            idempotency_key=unique(),
            booked_by="test",
        )
        dose = Dose(
            journey_id=jid,
            recipient_id=recipient.id,
            location_id=bunc,
            dose_number=1,
            product_code="pfizer",
            product_version=1,
            lot_number="X",
            expires_on=LOT_EXPIRY,
            injection_site="left_deltoid",
            route="intramuscular",
            administered_by="Someone",
            given_at=utcnow(),
            documented_by="test",
            idempotency_key=unique(),
        )
        db.add_all([appointment, dose])
        await db.flush()
        return {"slot_id": slot.id, "appointment_id": appointment.id, "dose_id": dose.id}


def portal_form(settings: Any, headers: dict[str, str], *, lang: str = "en", **fields: Any) -> dict[str, Any]:
    """A portal form post as its page sends it: the login, the CSRF token with its nonce cookie,
    the page language, and the fields."""
    nonce = "portal-form-test-nonce"
    session_token = headers["Authorization"].split(" ", 1)[1]
    return {
        "data": {CSRF_FIELD: csrf_token(settings.secret_key, nonce, session_token), **fields},
        "headers": {**headers, "Cookie": f"{CSRF_COOKIE}={nonce}; cvms_lang={lang}"},
    }
