"""The recipients area's request and response models (the registration fields are the ground
floor's, so an uploaded row is checked exactly like a registration)."""

from __future__ import annotations

from pydantic import BaseModel

from domain.recipients import (
    EDITABLE,
    Ethnicity,
    Language,
    Race,
    RecipientCreate,
    RecipientFields,
    RecipientOut,
    RecipientUpdate,
    Sex,
)
from records.uploads import Outcome, RowError, RowOutcome
from services.uploads import UploadOut, UploadReport

__all__ = [
    "EDITABLE",
    "Ethnicity",
    "Language",
    "Outcome",
    "Race",
    "RecipientCreate",
    "RecipientFields",
    "RecipientOut",
    "RecipientPage",
    "RecipientUpdate",
    "RowError",
    "RowOutcome",
    "Sex",
    "UploadOut",
    "UploadReport",
]


class RecipientPage(BaseModel):
    items: list[RecipientOut]
    total: int
    page: int
    page_size: int
