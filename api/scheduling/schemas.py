"""Request and response models of slots, seat holds and appointments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.eligibility.schemas import Screening
from api.stock_warnings import StockWarning, WarningCode, stock_warning
from domain.journey_messages import AppointmentFact
from domain.text import Line
from records.scheduling import Slot

# --------------------------------------------------------------------------- slots


class SlotIn(BaseModel):
    start_at: AwareDatetime
    end_at: AwareDatetime
    capacity: int = Field(ge=1, le=10_000)
    product_code: Line = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _ordered(self) -> SlotIn:
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class SlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int
    held: int
    seats_left: int
    product_code: str
    is_open: bool
    warnings: list[StockWarning] = Field(
        default_factory=list, description="e.g. no stock of the product on hand"
    )


def slot_out(slot: Slot) -> SlotOut:
    return SlotOut(
        id=slot.id,
        location_id=slot.location_id,
        start_at=slot.start_at,
        end_at=slot.end_at,
        capacity=slot.capacity,
        booked=slot.booked,
        held=slot.held,
        seats_left=max(slot.capacity - slot.booked - slot.held, 0) if slot.is_open else 0,
        product_code=slot.product_code,
        is_open=slot.is_open,
    )


def warnings_of(shortfall: list[tuple[str, dict[str, Any]]], product_code: str) -> list[StockWarning]:
    """The service's stock shortfalls as the API's (and the pages') stock warnings."""
    return [stock_warning(cast(WarningCode, code), product_code, **values) for code, values in shortfall]


class CapacityIn(BaseModel):
    capacity: int = Field(ge=1, le=10_000)


# --------------------------------------------------------------------------- seat holds


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slot_id: int
    purpose: str
    status: str
    expires_at: datetime


# --------------------------------------------------------------------------- appointments

Status = Literal["booked", "checked_in", "cancelled", "missed", "completed"]


class BookIn(BaseModel):
    recipient_id: int
    slot_id: int
    dose_number: int | None = Field(default=None, ge=1, le=10, description="checked against the series")
    idempotency_key: str | None = Field(default=None, max_length=120, description="or the header")
    hold_id: int | None = Field(
        default=None, ge=1, description="a seat held in this slot (POST /slots/…/holds)"
    )
    screening: Screening | None = Field(default=None, description="screening answers by question code")


class RescheduleIn(BaseModel):
    slot_id: int


class CancelIn(BaseModel):
    reason: Line = Field(min_length=1, max_length=500)


class AppointmentOut(BaseModel):
    id: int
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
    recipient_name: str | None = None


def from_fact(fact: AppointmentFact, recipient_name: str | None = None) -> AppointmentOut:
    return AppointmentOut(
        id=fact.appointment_id,
        journey_id=fact.journey_id,
        recipient_id=fact.recipient_id,
        location_id=fact.location_id,
        slot_id=fact.slot_id,
        start_at=fact.start_at,
        end_at=fact.end_at,
        product_code=fact.product_code,
        dose_number=fact.dose_number,
        status=fact.status,
        invite_sequence=fact.invite_sequence,
        recipient_name=recipient_name,
    )
