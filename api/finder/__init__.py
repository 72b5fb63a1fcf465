"""The location's listing and the public finder.

`OpeningHours` and `ListingOut` live here rather than in schemas.py: the marketplace has a
ListingOut too, so OpenAPI names this one by its module (api__finder__ListingOut), and the
document must not change.
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, Field, model_validator


class OpeningHours(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> OpeningHours:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        return self


class ListingOut(BaseModel):
    code: str
    name: str
    published: bool
    appointments: bool
    walk_ins: bool
    self_scheduling: bool
    opening_hours: list[OpeningHours]
