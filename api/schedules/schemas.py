"""Schedules, conditions and next doses as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    version: int
    family: str
    name: str
    body: dict[str, Any]
    created_at: datetime
    created_by: str
    reason: str | None


class ScheduleEdit(BaseModel):
    """The whole schedule as it should be from now on (its `primary` doses, `boosters`, age band)."""

    schedule: dict[str, Any] = Field(
        description="name, family, primary [{products, min_interval_days, recommended_interval_days, "
        "grace_days, same_as_first, condition}], boosters [{name, products, min_interval_days, "
        "min_age_years, max_age_years, repeats, grace_days}], min_age_months, max_age_months"
    )
    reason: str = Field(min_length=3, max_length=2000)


class NextDoseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    family: str
    schedule: str
    schedule_version: int
    kind: str
    dose_number: int
    products: list[str]
    earliest: datetime | None
    recommended_latest: datetime | None
    rule: str


class PreviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    recipient_id: int
    family: str
    before: NextDoseOut | None
    after: NextDoseOut | None


class ConditionIn(BaseModel):
    condition: Literal["immunocompromised"]


class ConditionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    condition: str
    recorded_by: str
    recorded_at: datetime
