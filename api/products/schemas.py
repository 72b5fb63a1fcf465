"""Request and response models of products and lots."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.text import Line


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    version: int
    name: str
    doses: int
    interval_days: int
    recommended_latest_days: int
    grace_days: int


class LotIn(BaseModel):
    product_code: Line = Field(min_length=1, max_length=40)
    lot_number: Line = Field(min_length=1, max_length=40)
    expires_on: date
    doses_received: int = Field(default=0, ge=0, le=1_000_000, description="the delivery (a received event)")

    @field_validator("lot_number")
    @classmethod
    def _trim(cls, value: str) -> str:
        return value.strip().upper()


class LotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_code: str
    lot_number: str
    expires_on: date
    on_hand: int
    created_at: datetime
