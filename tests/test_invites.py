"""Calendar invites as a mail client reads them (issue 17): every text part declares its
charset, so a Spanish invite decodes as written; DTSTAMP is when the invite was made; and the
reminder carries the same calendar event (UID and SEQUENCE) as the confirmation."""

from __future__ import annotations

from datetime import UTC, timedelta

from icalendar import Calendar

from records.db import utcnow
from tests.conftest import login
from tests.journeys import book, mail, mails_to, new_recipient, publish_slot


def calendar_event(message):
    """The VEVENT of the message's text/calendar part, decoded as a mail client does: with the
    charset the part declares (none means ASCII)."""
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    return event


def assert_every_text_part_declares_its_charset(message) -> None:
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert part.get_param("charset"), (part.get_content_type(), message["Subject"])


async def test_spanish_invites_decode_and_the_reminder_carries_the_same_event(api, smtp, sessions):
    manager, scheduler = await login(api, "manager"), await login(api, "scheduler")
    recipient = await new_recipient(sessions, language="es", first_name="Begoña")
    slot = await publish_slot(api, manager, start_in=6, length=30)
    before = utcnow().replace(microsecond=0)
    booked = await book(api, scheduler, recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    after = utcnow()

    confirmed = await mail(smtp, recipient.email, "Su cita de vacunación está confirmada")
    reminder = await mail(smtp, recipient.email, "Recordatorio: su cita de vacunación")
    for message in mails_to(smtp, recipient.email):
        assert_every_text_part_declares_its_charset(message)

    invite = calendar_event(confirmed)
    assert str(invite["SUMMARY"]) == "Cita de vacunación, dosis 1"
    made = invite.decoded("DTSTAMP").astimezone(UTC)
    assert before <= made <= after + timedelta(seconds=1), (made, before, after)
    assert made != invite.decoded("DTSTART")

    again = calendar_event(reminder)
    assert str(again["SUMMARY"]) == "Cita de vacunación, dosis 1"
    assert str(again["UID"]) == str(invite["UID"]) == f"appointment-{booked.json()['id']}@cvms"
    assert int(again["SEQUENCE"]) == int(invite["SEQUENCE"]) == 0
    assert again.decoded("DTSTART") == invite.decoded("DTSTART")
