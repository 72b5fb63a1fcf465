"""Request and response bodies of the recipient link API (/r/...)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.eligibility.schemas import Screening
from api.scheduling.schemas import AppointmentOut, HoldOut, SlotOut
from api.waitlist.schemas import Dates
from domain.text import Line
from services.recipient_links import CANCELLED_BY_RECIPIENT


class LocationInfo(BaseModel):
    name: str
    address: str
    phone: str
    time_zone: str


class RecipientAppointment(AppointmentOut):
    location: LocationInfo
    link_used: bool = Field(description="this link already cancelled or moved the appointment")


class SlotChoice(BaseModel):
    slot_id: int


class BookingChoice(SlotChoice):
    screening: Screening | None = None
    hold_id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="the seat held for this")


class AcceptOffer(BaseModel):
    screening: Screening | None = None


class JoinByLink(Dates):
    location_id: int = Field(ge=1, le=2_147_483_647)


class OfferView(BaseModel):
    offer_id: int
    status: str
    expires_at: datetime
    product_code: str
    slot: SlotOut
    location: LocationInfo
    screening_questions: list[ScreeningPrompt]  # answer each when accepting


class CancelByRecipient(BaseModel):
    reason: Line = Field(default=CANCELLED_BY_RECIPIENT, min_length=1, max_length=500)


class ScreeningPrompt(BaseModel):
    code: str
    prompt: str
    prompt_es: str | None  # None: ask in English


class BookingChoices(BaseModel):
    journey_id: str
    dose_number: int
    product_code: str
    earliest: datetime | None
    recommended_latest: datetime | None
    slots: list[SlotOut]
    screening_questions: list[ScreeningPrompt]  # answer each in the booking's `screening`


class HeldSeat(BaseModel):
    hold: HoldOut
    slot: SlotOut
    location: LocationInfo
    screening_questions: list[ScreeningPrompt]  # answer each in the booking's `screening`


class RecordDose(BaseModel):
    dose_number: int
    product: str
    lot_number: str
    given_at: datetime
    location: str


class VaccinationRecord(BaseModel):
    name: str
    date_of_birth: date
    series: str
    product: str | None
    doses_required: int | None
    complete: bool
    doses: list[RecordDose]
