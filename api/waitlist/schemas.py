"""Request and response models of the waitlist."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from domain.text import Line
from records.waitlist import WaitlistEntry
from services import waitlist

Status = Literal["waiting", "offered", "booked", "lapsed", "removed"]


class Dates(BaseModel):
    earliest_date: date
    latest_date: date

    @model_validator(mode="after")
    def _ordered(self) -> Dates:
        if self.latest_date < self.earliest_date:
            raise ValueError("latest_date must not be before earliest_date")
        return self


class JoinIn(Dates):
    recipient_id: int = Field(ge=1, le=2_147_483_647)
    product_code: Line = Field(min_length=1, max_length=40)


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slot_id: int
    status: str
    expires_at: datetime
    appointment_id: int | None


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int
    recipient_id: int
    product_code: str
    earliest_date: date
    latest_date: date
    status: str
    added_by: str
    created_at: datetime
    offers: list[OfferOut] = []


async def entry_out(db: AsyncSession, entry: WaitlistEntry) -> EntryOut:
    out = EntryOut.model_validate(entry)
    out.offers = [OfferOut.model_validate(o) for o in await waitlist.offers_of(db, entry)]
    return out
