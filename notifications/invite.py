"""Calendar invites (iCalendar, RFC 5545) attached to appointment email."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

from domain.email import CalendarInvite


def build_ics(invite: CalendarInvite) -> bytes:
    """The invite as iCalendar text (UTF-8). DTSTAMP is when the invite was made (RFC 5545: when
    the scheduling message was created), never the appointment's start."""
    calendar = Calendar()
    calendar.add("prodid", "-//cvms//vaccination appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", invite.method)
    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    made_at = datetime.fromisoformat(invite.made_at) if invite.made_at else datetime.now(UTC)
    event.add("dtstamp", made_at.astimezone(UTC))
    event.add("dtstart", datetime.fromisoformat(invite.start).astimezone(UTC))
    event.add("dtend", datetime.fromisoformat(invite.end).astimezone(UTC))
    event.add("summary", invite.summary)
    event.add("location", invite.location)
    event.add("description", invite.description)
    event.add("status", "CANCELLED" if invite.method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{invite.organizer_email}")
    organizer.params["cn"] = vText("cvms")
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{invite.attendee_email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
