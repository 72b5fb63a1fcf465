"""Who a recipient is: the registration fields and their rules, and the folded search keys.

Pure: the API's schemas, the registration service and the CSV upload's rows all validate
with these models, so a row of a file is checked exactly like a registration.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.networks import validate_email

from domain.text import Line, clean_line


def fold(text: str) -> str:
    """Case- and accent-insensitive search key: 'Peña ' -> 'pena' (invisible characters dropped)."""
    decomposed = unicodedata.normalize("NFKD", clean_line(text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def phone_digits(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    # US numbers are stored without the country code so "+1 (919)…" finds "919…".
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


Sex = Literal["female", "male", "unknown", "other"]
Language = Literal["en", "es"]
# CDC-style registration form categories (optional).
Race = Literal[
    "american_indian_or_alaska_native",
    "asian",
    "black_or_african_american",
    "native_hawaiian_or_other_pacific_islander",
    "white",
    "other",
    "unknown",
    "declined",
]
Ethnicity = Literal["hispanic_or_latino", "not_hispanic_or_latino", "unknown", "declined"]


def _optional_email(value: str) -> str:
    value = clean_line(value)
    if not value:
        return ""
    try:
        return validate_email(value)[1]
    except Exception as exc:  # pydantic raises PydanticCustomError; say it plainly
        raise ValueError("enter a valid email address") from exc


OptionalEmail = Annotated[str, AfterValidator(_optional_email)]
EDITABLE = (
    "first_name middle_name last_name date_of_birth sex address_line city state postal_code "
    "phone email preferred_language race ethnicity"
).split()


class RecipientFields(BaseModel):
    first_name: Line = Field(min_length=1, max_length=100)
    middle_name: Line = Field(default="", max_length=100)
    last_name: Line = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex
    address_line: Line = Field(default="", max_length=200)
    city: Line = Field(default="", max_length=100)
    state: Line = Field(default="", max_length=2, pattern=r"^([A-Z]{2})?$")
    postal_code: Line = Field(default="", max_length=10, pattern=r"^(\d{5}(-\d{4})?)?$")
    phone: Line = Field(default="", max_length=40)
    email: OptionalEmail = ""
    preferred_language: Language = "en"
    race: Race | None = None
    ethnicity: Ethnicity | None = None

    @field_validator("date_of_birth")
    @classmethod
    def _born(cls, value: date) -> date:
        if value > date.today() or value.year < 1900:
            raise ValueError("date of birth must be between 1900 and today")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value and len(phone_digits(value)) != 10:
            raise ValueError("enter a 10-digit phone number")
        return value


class RecipientCreate(RecipientFields):
    # Set when the user has looked at the possible duplicates and says this is someone else.
    confirm_new_person: bool = False


class RecipientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Line | None = Field(default=None, min_length=1, max_length=100)
    middle_name: Line | None = Field(default=None, max_length=100)
    last_name: Line | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: date | None = None
    sex: Sex | None = None
    address_line: Line | None = Field(default=None, max_length=200)
    city: Line | None = Field(default=None, max_length=100)
    state: Line | None = Field(default=None, max_length=2, pattern=r"^([A-Z]{2})?$")
    postal_code: Line | None = Field(default=None, max_length=10, pattern=r"^(\d{5}(-\d{4})?)?$")
    phone: Line | None = Field(default=None, max_length=40)
    email: OptionalEmail | None = None
    preferred_language: Language | None = None
    race: Race | None = None
    ethnicity: Ethnicity | None = None
    reason: Line | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _validate_like_create(self) -> RecipientUpdate:
        if self.phone and len(phone_digits(self.phone)) != 10:
            raise ValueError("phone: enter a 10-digit phone number")
        if self.date_of_birth and (self.date_of_birth > date.today() or self.date_of_birth.year < 1900):
            raise ValueError("date_of_birth: must be between 1900 and today")
        return self


class RecipientOut(RecipientFields):
    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
