"""Recipients: find, register (with the duplicate check), read and edit.

Shared across locations; the JSON routes, the portal pages and the other areas' pages
(`load_recipient`) all come here.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from domain.recipients import RecipientCreate, RecipientOut, RecipientUpdate
from domain.refusals import Conflict, Invalid, NotFound
from domain.text import like_pattern
from records.audit import audit, diff
from records.db import utcnow
from records.recipients import (
    Recipient,
    add_recipient,
    find_possible_duplicates,
    fold,
    phone_digits,
    snapshot,
)
from services.access import Acting


async def load_recipient(db: AsyncSession, recipient_id: int) -> Recipient:
    recipient = await db.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    return recipient


# The fewest letters a name search takes: one letter would list half the registry.
MIN_NAME_LETTERS = 2


def _name_filters(words: list[str]) -> list[ColumnElement[bool]]:
    """Each word of the query must start a first or last name (folded); the words are literal
    (a % or _ in the query matches only itself)."""
    filters = []
    for word in words:
        starts = f"{like_pattern(word)}%"
        filters.append(
            or_(Recipient.first_key.like(starts, escape="\\"), Recipient.last_key.like(starts, escape="\\"))
        )
    return filters


def _closeness(words: list[str]) -> ColumnElement[int]:
    """How many words of the query are a whole first or last name: the best matches first."""
    score: ColumnElement[int] = literal(0)
    for word in words:
        score = score + case((or_(Recipient.first_key == word, Recipient.last_key == word), 1), else_=0)
    return score


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
    """One page of recipients matching a name (the date of birth narrows it), a phone or an
    email, and the total; best name matches first."""
    conditions: list[ColumnElement[bool]] = []
    words = fold(name or "").split()
    if name is not None and name.strip():
        if sum(len(word) for word in words) < MIN_NAME_LETTERS:
            raise Invalid(
                "enter at least two letters of the name",
                errors=[{"field": "name", "message": "at least two letters"}],
            )
        conditions += _name_filters(words)
    if date_of_birth is not None:
        conditions.append(Recipient.date_of_birth == date_of_birth)
    if phone:
        digits = phone_digits(phone)
        if len(digits) < 4:
            raise Invalid("enter at least 4 digits of the phone number")
        conditions.append(Recipient.phone_key.like(f"{digits}%"))
    if email:
        conditions.append(Recipient.email_key == email.strip().casefold())
    if not conditions:
        raise Invalid("search by name (the date of birth narrows it), by phone, or by email")
    where = and_(*conditions)
    total = (await db.execute(select(func.count()).select_from(Recipient).where(where))).scalar_one()
    rows = (
        await db.execute(
            select(Recipient)
            .where(where)
            .order_by(_closeness(words).desc(), Recipient.last_key, Recipient.first_key, Recipient.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).scalars()
    return list(rows), total


async def register(db: AsyncSession, actor: Acting, body: RecipientCreate) -> Recipient:
    """Registers a recipient; a name + date of birth match is a conflict with the candidates
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
    return await add_recipient(
        db,
        body.model_dump(exclude={"confirm_new_person"}),
        created_by=actor.user.id,
        actor=actor.actor,
        location_id=actor.location.id,
    )


async def edit(db: AsyncSession, actor: Acting, recipient: Recipient, body: RecipientUpdate) -> Recipient:
    """Applies the fields the update sets, audited with old and new values and the reason."""
    updates = body.model_dump(exclude_unset=True, exclude={"reason"})
    for name, value in updates.items():
        if value is None and name not in ("race", "ethnicity"):
            raise Invalid(f"{name} cannot be empty", errors=[{"field": name, "message": "required"}])
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
