"""domain.scheduling."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class AppointmentStatus(enum.StrEnum):
    booked = "booked"
    checked_in = "checked_in"
    cancelled = "cancelled"
    missed = "missed"
    completed = "completed"


# An appointment in one of these still holds its seat and is the journey's current one.
ACTIVE_STATUSES = (AppointmentStatus.booked.value, AppointmentStatus.checked_in.value)

# The statuses an appointment may leave for each status a person or a timer gives it: the one
# table the journey workflow checks before it asks, and the activity checks as it writes.
MOVES_FROM: dict[str, tuple[str, ...]] = {
    AppointmentStatus.cancelled.value: ACTIVE_STATUSES,
    AppointmentStatus.checked_in.value: (AppointmentStatus.booked.value,),
    AppointmentStatus.missed.value: (AppointmentStatus.booked.value,),
}


def may_move(current: str, to_status: str) -> bool:
    return current in MOVES_FROM.get(to_status, ())


def cannot_move_message(current: str, to_status: str) -> str:
    return f"This appointment is {current.replace('_', ' ')}; it cannot become {to_status.replace('_', ' ')}."


class HoldPurpose(enum.StrEnum):
    registration = "registration"
    waitlist_offer = "waitlist_offer"


class HoldStatus(enum.StrEnum):
    held = "held"
    booked = "booked"
    released = "released"


def hold_workflow_id(hold_id: int) -> str:
    return f"seat-hold-{hold_id}"


def waitlist_workflow_id(location_id: int, product_code: str) -> str:
    """One waitlist workflow per location and product, readable in the Temporal Web UI."""
    return f"waitlist-{location_id}-{product_code}"


class EntryStatus(enum.StrEnum):
    waiting = "waiting"
    offered = "offered"  # holds a seat offer right now
    booked = "booked"
    lapsed = "lapsed"  # let an offer run out: off the list until added again
    removed = "removed"


class OfferStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    expired = "expired"


# Purpose of the signed link that accepts a waitlist offer (services/recipient_links.py reads it).
LINK_WAITLIST_OFFER = "waitlist-offer"


@dataclass(frozen=True)
class WaitlistInput:
    location_id: int
    product_code: str
    offer_hold_seconds: float


@dataclass(frozen=True)
class Review:
    """Why the waitlist should look again: a seat opened in a slot, or someone joined."""

    reason: str
    slot_id: int | None = None


@dataclass(frozen=True)
class SeatOpening:
    slot_id: int


@dataclass(frozen=True)
class OfferFact:
    offer_id: int
    entry_id: int
    recipient_id: int
    slot_id: int
    expires_at: datetime
    status: str


@dataclass(frozen=True)
class OfferEmail:
    offer_id: int
    template: str  # "waitlist_offer" or "waitlist_lapsed"


@dataclass(frozen=True)
class HoldEnd:
    hold_id: int


def offer_link_id(offer_id: int) -> str:
    """The single-use id (jti) of an offer's accept link."""
    return f"waitlist-offer-{offer_id}"


@dataclass(frozen=True)
class SeatHoldInput:
    hold_id: int
    expires_at: datetime


# The waitlist workflow of a location and product, and the signal that asks it to look again
# (named here, so a client that must not import the workflow can still reach it).
WAITLIST_WORKFLOW = "WaitlistWorkflow"
REVIEW_SIGNAL = "review"

ACTIVE_ENTRY = (EntryStatus.waiting.value, EntryStatus.offered.value)
