"""The journey workflow's inputs, update arguments and results.

Kept apart from workflows/journey.py and passed through Temporal's sandbox:
the sandbox re-executes a workflow's own module for every run, and types
defined there would be new classes each time (about 40 ms of CPU and 200 KB
per journey for the data converter to learn them again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from activities.journey import AppointmentFact, DoseChanges, DoseFact, SlotFact
from domain.dose_rules import ProductRule


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


@dataclass(frozen=True)
class RescheduleRequest:
    appointment_id: int
    slot: SlotFact
    actor: str


@dataclass(frozen=True)
class AppointmentRequest:
    """Cancel (reason required), check in, or mark a no-show."""

    appointment_id: int
    actor: str
    reason: str | None = None


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


@dataclass(frozen=True)
class RemoveDoseRequest:
    dose_id: int
    reason: str
    actor: str


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
