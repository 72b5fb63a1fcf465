"""Eligibility: the minimum age per product and the screening questions, as data, and the
check every booking and documented dose runs before it reaches the journey workflow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.dose_rules import RuleViolation, to_local
from domain.eligibility import check_eligibility
from domain.refusals import Conflict, Invalid, NotFound
from records.eligibility import eligibility_rules
from records.locations import Location
from records.recipients import Recipient


async def check_eligible(
    db: AsyncSession,
    *,
    recipient_id: int,
    product_code: str,
    location_id: int,
    at: datetime,
    screening: dict[str, str] | None,
) -> None:
    """Refuses (409, or 422 for incomplete answers) with the reason when the rules say no."""
    recipient = await db.get(Recipient, recipient_id)
    location = await db.get(Location, location_id)
    if recipient is None or location is None:
        raise NotFound("no such recipient")
    rules = await eligibility_rules(db, product_code)
    try:
        check_eligibility(rules, recipient.date_of_birth, to_local(at, location.time_zone).date(), screening)
    except RuleViolation as violation:
        error = Conflict if violation.is_conflict else Invalid
        raise error(violation.message, code=violation.code, **violation.details) from None
