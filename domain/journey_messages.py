"""The journey workflow's inputs, update arguments and results.

Kept apart from workflows/journey.py and passed through Temporal's sandbox:
the sandbox re-executes a workflow's own module for every run, and types
defined there would be new classes each time (about 40 ms of CPU and 200 KB
per journey for the data converter to learn them again).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.dose_rules import ProductRule
from domain.scheduling import ACTIVE_STATUSES


@dataclass(frozen=True)
class JourneyInput:
    """How a run starts: the series as the records know it (empty for a new journey)."""

    journey_id: str
    recipient_id: int
    series_no: int
    day_seconds: float
    reminder_lead_seconds: float
    rule: ProductRule | None = None
    doses: list[DoseFact] = field(default_factory=list)
    appointment: AppointmentFact | None = None
    removals: int = 0
    idle_close_seconds: float = 30 * 86400


@dataclass(frozen=True)
class BookRequest:
    slot: SlotFact
    rule: ProductRule  # newest version of the slot's product; a started series keeps its own
    idempotency_key: str
    actor: str
    dose_number: int | None = None  # when given, must be the dose that is next
    hold_id: int | None = None  # the seat held for this person, taken if still live
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)


@dataclass(frozen=True)
class RescheduleRequest:
    appointment_id: int
    slot: SlotFact
    actor: str
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)


@dataclass(frozen=True)
class AppointmentRequest:
    """Cancel (reason required), check in, or mark a no-show."""

    appointment_id: int
    actor: str
    reason: str | None = None
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)


@dataclass(frozen=True)
class DocumentRequest:
    rule: ProductRule  # newest version of the product given
    location_id: int
    lot_number: str
    expires_on: date
    injection_site: str
    route: str
    administered_by: str
    given_at: datetime
    idempotency_key: str
    actor: str
    dose_number: int | None = None
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)


@dataclass(frozen=True)
class DocumentOutcome:
    dose: DoseFact
    warning: str | None
    series_complete: bool


@dataclass(frozen=True)
class EditDoseRequest:
    dose_id: int
    changes: DoseChanges
    reason: str
    actor: str
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)


@dataclass(frozen=True)
class RemoveDoseRequest:
    dose_id: int
    reason: str
    actor: str
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)


@dataclass(frozen=True)
class JourneyView:
    journey_id: str
    recipient_id: int
    series_no: int
    product_code: str | None
    product_version: int | None
    doses_required: int | None
    doses: list[DoseFact]
    appointment: AppointmentFact | None
    complete: bool
    next_dose_number: int | None
    next_dose_earliest: datetime | None
    next_dose_latest: datetime | None
    next_event: str | None
    next_event_at: datetime | None


def journey_id(recipient_id: int, series_no: int) -> str:
    """The workflow ID, readable in the Temporal Web UI."""
    return f"journey-{recipient_id}-{series_no}"


class JourneyStatus(enum.StrEnum):
    active = "active"
    complete = "complete"


# The email (and the journey timer) announcing the schedule's next series (a booster) is due.
BOOSTER_DUE = "booster_due"

# Purposes of the signed links a recipient gets (services/recipient_links.py reads them).
LINK_APPOINTMENT = "appointment"


LINK_BOOK = "book"


LINK_RECORD = "record"


@dataclass(frozen=True)
class SlotFact:
    slot_id: int
    location_id: int
    start_at: datetime
    end_at: datetime
    product_code: str


@dataclass(frozen=True)
class AppointmentFact:
    appointment_id: int
    journey_id: str
    recipient_id: int
    location_id: int
    slot_id: int
    start_at: datetime
    end_at: datetime
    product_code: str
    dose_number: int
    status: str
    invite_sequence: int

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @classmethod
    def of(cls, row: Any) -> AppointmentFact:
        return cls(
            appointment_id=row.id,
            journey_id=row.journey_id,
            recipient_id=row.recipient_id,
            location_id=row.location_id,
            slot_id=row.slot_id,
            start_at=row.start_at,
            end_at=row.end_at,
            product_code=row.product_code,
            dose_number=row.dose_number,
            status=row.status,
            invite_sequence=row.invite_sequence,
        )


@dataclass(frozen=True)
class DoseFact:
    dose_id: int
    dose_number: int
    product_code: str
    given_at: datetime
    location_id: int
    warning: str | None = None

    @classmethod
    def of(cls, row: Any) -> DoseFact:
        return cls(
            dose_id=row.id,
            dose_number=row.dose_number,
            product_code=row.product_code,
            given_at=row.given_at,
            location_id=row.location_id,
            warning=row.warning,
        )


@dataclass(frozen=True)
class BookStep:
    journey_id: str
    recipient_id: int
    series_no: int
    rule: ProductRule
    slot: SlotFact
    dose_number: int
    idempotency_key: str
    actor: str
    hold_id: int | None = None  # a seat held for this person (registration, waitlist offer)


@dataclass(frozen=True)
class RescheduleStep:
    appointment_id: int
    slot: SlotFact
    actor: str


@dataclass(frozen=True)
class StatusStep:
    """Cancel, check in, or mark missed: moves an appointment from an expected status."""

    appointment_id: int
    to_status: str
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class DocumentStep:
    journey_id: str
    recipient_id: int
    series_no: int
    rule: ProductRule
    dose_number: int
    location_id: int
    lot_number: str
    expires_on: date
    injection_site: str
    route: str
    administered_by: str
    given_at: datetime
    warning: str | None
    idempotency_key: str
    actor: str
    completes_series: bool
    appointment_id: int | None = None  # the appointment this dose fulfils


@dataclass(frozen=True)
class DocumentResult:
    dose: DoseFact
    appointment: AppointmentFact | None


@dataclass(frozen=True)
class DoseChanges:
    """Fields of a documented dose a provider may correct (None: unchanged)."""

    lot_number: str | None = None
    expires_on: date | None = None
    injection_site: str | None = None
    route: str | None = None
    administered_by: str | None = None
    given_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class EditStep:
    dose_id: int
    changes: DoseChanges
    reason: str
    actor: str


@dataclass(frozen=True)
class RemoveStep:
    dose_id: int
    reason: str
    actor: str


@dataclass(frozen=True)
class ComposeStep:
    """One email of a journey: the workflow says what happened, the activity fills in who and where."""

    key: str
    template: str
    journey_id: str
    recipient_id: int
    appointment: AppointmentFact | None = None
    invite_method: str | None = None  # "REQUEST" / "CANCEL" attaches a calendar invite
    dose_number: int | None = None
    product_name: str = ""
    window_earliest: datetime | None = None
    window_latest: datetime | None = None
    location_id: int | None = None  # where the last dose was given (time zone of due-dates)
    extra: dict[str, Any] = field(default_factory=dict)
