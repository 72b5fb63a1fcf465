"""Request and response bodies of the dose routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.eligibility.schemas import Screening
from domain.text import Line
from services.doses import DoseEditing, NewDose

InjectionSite = Literal["left_deltoid", "right_deltoid", "left_thigh", "right_thigh", "other"]
Route = Literal["intramuscular", "subcutaneous", "intradermal", "intranasal", "other"]


class DoseIn(BaseModel):
    product_code: Line = Field(min_length=1, max_length=40)
    lot_number: Line = Field(min_length=1, max_length=40)
    dose_number: int | None = Field(default=None, ge=1, le=10, description="checked against the series")
    injection_site: InjectionSite
    route: Route = "intramuscular"
    administered_by: Line | None = Field(default=None, max_length=200, description="default: you")
    given_at: AwareDatetime | None = Field(default=None, description="default: now")
    idempotency_key: str | None = Field(default=None, max_length=120, description="or the header")
    screening: Screening | None = Field(default=None, description="screening answers by question code")


class DoseEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lot_number: Line | None = Field(default=None, min_length=1, max_length=40)
    injection_site: InjectionSite | None = None
    route: Route | None = None
    administered_by: Line | None = Field(default=None, min_length=1, max_length=200)
    given_at: AwareDatetime | None = None
    reason: Line = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _something(self) -> DoseEdit:
        if not self.model_dump(exclude={"reason"}, exclude_none=True):
            raise ValueError("change at least one field")
        return self


class RemoveIn(BaseModel):
    reason: Line = Field(min_length=1, max_length=500)


class DoseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    journey_id: str
    recipient_id: int
    location_id: int
    appointment_id: int | None
    dose_number: int
    product_code: str
    product_version: int
    lot_number: str
    expires_on: date
    injection_site: str
    route: str
    administered_by: str
    given_at: datetime
    warning: str | None
    documented_by: str
    removed: bool
    removed_reason: str | None


class DocumentedOut(DoseOut):
    series_complete: bool


def new_dose(body: DoseIn) -> NewDose:
    return NewDose(**body.model_dump(exclude={"idempotency_key"}))


def dose_editing(body: DoseEdit) -> DoseEditing:
    return DoseEditing(**body.model_dump())
