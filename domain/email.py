"""What an email to send is: its natural key, recipient, template, context and calendar invite.

Annotations are evaluated here (no postponed annotations), so the data converter
resolves these types wherever it meets them, also inside the workflow sandbox.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CalendarInvite:
    uid: str  # stays the same for the life of an appointment; SEQUENCE grows
    sequence: int
    method: str  # "REQUEST" or "CANCEL"
    start: str  # ISO instants, UTC
    end: str
    summary: str
    location: str
    description: str
    organizer_email: str
    attendee_email: str
    made_at: str | None = None  # when the invite was made (its DTSTAMP), an ISO instant, UTC


@dataclass(frozen=True)
class EmailRequest:
    key: str  # natural key, e.g. "journey-12-1:confirmed:3"
    to: str
    language: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    invite: CalendarInvite | None = None


# In an outbox row's values: {"kind": "user" | "requester", "id": N}. The activity that sends the
# message mints the single-use set-password link for that account then, so no workflow payload and
# no outbox row ever holds the link.
SET_PASSWORD_LINK = "_set_password_link"


def recorded_email(key: str) -> EmailRequest:
    """A reference to a message already in the outbox (recorded in the API's transaction): what a
    delivery workflow carries, so its history holds neither address, names nor any secret."""
    return EmailRequest(key=key, to="", language="", template="")


@dataclass(frozen=True)
class EmailResult:
    key: str
    message_id: str
    sent_now: bool  # False when an earlier attempt had already sent it


def email_workflow_id(key: str) -> str:
    return f"email-{key}"
