"""Find, register, read and edit recipients (shared across locations)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.networks import validate_email
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Actor, Reader, RecordId, Registrar, SessionDep
from api.errors import Conflict, NotFound, Unprocessable
from records.audit import audit, diff
from records.db import utcnow
from records.recipients import Recipient, fold, phone_digits

router = APIRouter(prefix="/recipients", tags=["recipients"])

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
    value = value.strip()
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
    first_name: str = Field(min_length=1, max_length=100)
    middle_name: str = Field(default="", max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex
    address_line: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    state: str = Field(default="", max_length=2, pattern=r"^([A-Z]{2})?$")
    postal_code: str = Field(default="", max_length=10, pattern=r"^(\d{5}(-\d{4})?)?$")
    phone: str = Field(default="", max_length=40)
    email: OptionalEmail = ""
    preferred_language: Language = "en"
    race: Race | None = None
    ethnicity: Ethnicity | None = None

    @field_validator("first_name", "last_name", "middle_name")
    @classmethod
    def _trim(cls, value: str) -> str:
        return " ".join(value.split())

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
        return value.strip()


class RecipientCreate(RecipientFields):
    # Set when the user has looked at the possible duplicates and says this is someone else.
    confirm_new_person: bool = False


class RecipientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: date | None = None
    sex: Sex | None = None
    address_line: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=2, pattern=r"^([A-Z]{2})?$")
    postal_code: str | None = Field(default=None, max_length=10, pattern=r"^(\d{5}(-\d{4})?)?$")
    phone: str | None = Field(default=None, max_length=40)
    email: OptionalEmail | None = None
    preferred_language: Language | None = None
    race: Race | None = None
    ethnicity: Ethnicity | None = None
    reason: str | None = Field(default=None, max_length=500)

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


class RecipientPage(BaseModel):
    items: list[RecipientOut]
    total: int
    page: int
    page_size: int


def snapshot(recipient: Recipient) -> dict[str, object]:
    return {name: getattr(recipient, name) for name in EDITABLE}


async def load_recipient(db: AsyncSession, recipient_id: RecordId) -> Recipient:
    recipient = await db.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    return recipient


def _name_filters(name: str) -> list:
    """Each word of the query must start a first or last name (folded)."""
    filters = []
    for word in fold(name).split():
        like = f"{word}%"
        filters.append(or_(Recipient.first_key.like(like), Recipient.last_key.like(like)))
    return filters


async def search(
    db: AsyncSession,
    *,
    name: str | None = None,
    date_of_birth: date | None = None,
    phone: str | None = None,
    email: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[Recipient], int]:
    """One page of recipients matching name + date of birth, phone, or email, and the total."""
    conditions = []
    if name and name.strip():
        if date_of_birth is None:
            raise Unprocessable(
                "searching by name needs the date of birth too",
                errors=[{"field": "date_of_birth", "message": "required with name"}],
            )
        conditions += _name_filters(name)
    if date_of_birth is not None:
        conditions.append(Recipient.date_of_birth == date_of_birth)
    if phone:
        digits = phone_digits(phone)
        if len(digits) < 4:
            raise Unprocessable("enter at least 4 digits of the phone number")
        conditions.append(Recipient.phone_key.like(f"{digits}%"))
    if email:
        conditions.append(Recipient.email_key == email.strip().casefold())
    if not conditions:
        raise Unprocessable("search by name and date of birth, by phone, or by email")
    where = and_(*conditions)
    total = (await db.execute(select(func.count()).select_from(Recipient).where(where))).scalar_one()
    rows = (
        await db.execute(
            select(Recipient)
            .where(where)
            .order_by(Recipient.last_key, Recipient.first_key, Recipient.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).scalars()
    return list(rows), total


async def find_possible_duplicates(
    db: AsyncSession, first_name: str, last_name: str, date_of_birth: date
) -> list[Recipient]:
    rows = await db.execute(
        select(Recipient).where(
            Recipient.first_key == fold(first_name),
            Recipient.last_key == fold(last_name),
            Recipient.date_of_birth == date_of_birth,
        )
    )
    return list(rows.scalars())


async def register(db: AsyncSession, actor: Actor, body: RecipientCreate) -> Recipient:
    """Registers a recipient; a name + date of birth match is a 409 with the candidates
    unless the user confirmed this is a different person."""
    if not body.confirm_new_person:
        candidates = await find_possible_duplicates(db, body.first_name, body.last_name, body.date_of_birth)
        if candidates:
            raise Conflict(
                "a recipient with this name and date of birth exists; use them, or confirm "
                "this is a different person (confirm_new_person=true)",
                code="possible_duplicate",
                candidates=[RecipientOut.model_validate(c).model_dump(mode="json") for c in candidates],
            )
    recipient = Recipient(**body.model_dump(exclude={"confirm_new_person"}), created_by=actor.user.id)
    recipient.refresh_search_keys()
    db.add(recipient)
    await db.flush()
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="recipient",
        entity_id=recipient.id,
        action="register",
        changes=diff({}, snapshot(recipient)),
    )
    return recipient


async def edit(db: AsyncSession, actor: Actor, recipient: Recipient, body: RecipientUpdate) -> Recipient:
    """Applies the fields the update sets, audited with old and new values and the reason."""
    updates = body.model_dump(exclude_unset=True, exclude={"reason"})
    for name, value in updates.items():
        if value is None and name not in ("race", "ethnicity"):
            raise Unprocessable(f"{name} cannot be empty", errors=[{"field": name, "message": "required"}])
    before = snapshot(recipient)
    for name, value in updates.items():
        setattr(recipient, name, value)
    recipient.refresh_search_keys()
    changes = diff(before, snapshot(recipient))
    if changes:
        recipient.updated_at = utcnow()
        audit(
            db,
            actor=actor.actor,
            location_id=actor.location.id,
            entity="recipient",
            entity_id=recipient.id,
            action="edit",
            changes=changes,
            reason=body.reason,
        )
    return recipient


@router.get("", response_model=RecipientPage)
async def search_recipients(
    actor: Reader,
    db: SessionDep,
    name: Annotated[str | None, Query(max_length=200, description="part of first/last name")] = None,
    date_of_birth: date | None = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RecipientPage:
    rows, total = await search(
        db, name=name, date_of_birth=date_of_birth, phone=phone, email=email, page=page, page_size=page_size
    )
    return RecipientPage(
        items=[RecipientOut.model_validate(r) for r in rows], total=total, page=page, page_size=page_size
    )


@router.post("", response_model=RecipientOut, status_code=201)
async def register_recipient(body: RecipientCreate, actor: Registrar, db: SessionDep) -> RecipientOut:
    return RecipientOut.model_validate(await register(db, actor, body))


@router.get("/{recipient_id}", response_model=RecipientOut)
async def read_recipient(recipient_id: RecordId, actor: Reader, db: SessionDep) -> RecipientOut:
    return RecipientOut.model_validate(await load_recipient(db, recipient_id))


@router.patch("/{recipient_id}", response_model=RecipientOut)
async def edit_recipient(
    recipient_id: RecordId, body: RecipientUpdate, actor: Registrar, db: SessionDep
) -> RecipientOut:
    recipient = await load_recipient(db, recipient_id)
    return RecipientOut.model_validate(await edit(db, actor, recipient, body))
