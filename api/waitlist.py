"""Waitlists: staff add a recipient to their location's waitlist for a product and dates
(a recipient can join through their booking link too); free seats are offered by the
location's waitlist workflow (workflows/waitlist.py)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Reader, RecordId, Scheduler, SessionDep, SettingsDep, TemporalDep, after_commit
from api.errors import Conflict, NotFound, Unprocessable
from api.slots import require_scheduling
from domain.dose_rules import to_local
from domain.scheduling import (
    ACTIVE_ENTRY,
    REVIEW_SIGNAL,
    WAITLIST_WORKFLOW,
    EntryStatus,
    Review,
    WaitlistInput,
    waitlist_workflow_id,
)
from domain.settings import Settings
from records.audit import audit
from records.db import utcnow
from records.locations import Location
from records.products import current_product
from records.recipients import Recipient
from records.waitlist import WaitlistEntry, WaitlistOffer
from services.temporal import TemporalGateway

router = APIRouter(prefix="/waitlist", tags=["waitlist"])
log = logging.getLogger("cvms.waitlist")

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
    product_code: str = Field(min_length=1, max_length=40)


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
    offers = await db.execute(
        select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id).order_by(WaitlistOffer.id)
    )
    out = EntryOut.model_validate(entry)
    out.offers = [OfferOut.model_validate(o) for o in offers.scalars()]
    return out


def tell_waitlist_after_commit(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    location_id: int,
    product_code: str,
    review: Review,
) -> None:
    """Asks the waitlist to look again once this request has committed. Best effort: if it fails,
    the next seat opening (told durably by the journey and hold workflows) looks again anyway."""

    async def tell() -> None:
        try:
            await temporal.signal_with_start(
                WAITLIST_WORKFLOW,
                WaitlistInput(location_id, product_code, settings.waitlist_offer_hold_seconds),
                workflow_id=waitlist_workflow_id(location_id, product_code),
                signal=REVIEW_SIGNAL,
                signal_argument=review,
            )
        except Exception:  # noqa: BLE001 - the request has committed; say so in the log only
            log.warning("could not tell waitlist %s/%s: %s", location_id, product_code, review, exc_info=True)

    after_commit(db, tell)


async def someone_waits(db: AsyncSession, location_id: int, product_code: str) -> bool:
    return bool(
        (
            await db.execute(
                select(
                    exists().where(
                        WaitlistEntry.location_id == location_id,
                        WaitlistEntry.product_code == product_code,
                        WaitlistEntry.status.in_(ACTIVE_ENTRY),
                    )
                )
            )
        ).scalar_one()
    )


async def active_entry(
    db: AsyncSession, location_id: int, recipient_id: int, product_code: str
) -> WaitlistEntry | None:
    """The person's place in this location's line for the product, while they wait or hold an offer."""
    return (
        await db.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.location_id == location_id,
                WaitlistEntry.recipient_id == recipient_id,
                WaitlistEntry.product_code == product_code,
                WaitlistEntry.status.in_(ACTIVE_ENTRY),
            )
        )
    ).scalar_one_or_none()


def _already_waitlisted(entry: WaitlistEntry | None) -> Conflict:
    return Conflict(
        "this recipient is already on this waitlist",
        code="already_waitlisted",
        entry_id=entry.id if entry else None,
    )


async def add_to_waitlist(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    location: Location,
    recipient_id: int,
    product_code: str,
    dates: Dates,
    added_by: str,
) -> WaitlistEntry:
    """Shared by staff and the recipient's link: one active entry per person, place and product
    (a unique index holds it when two requests join at once)."""
    require_scheduling(location)
    if await current_product(db, product_code) is None:
        raise Unprocessable(
            f"unknown product {product_code!r}", errors=[{"field": "product_code", "message": "unknown"}]
        )
    today = to_local(utcnow(), location.time_zone).date()
    if dates.latest_date < today:
        raise Unprocessable(
            "these dates are over", errors=[{"field": "latest_date", "message": "before today"}]
        )
    already = await active_entry(db, location.id, recipient_id, product_code)
    if already is not None:
        raise _already_waitlisted(already)
    entry = WaitlistEntry(
        location_id=location.id,
        recipient_id=recipient_id,
        product_code=product_code,
        earliest_date=dates.earliest_date,
        latest_date=dates.latest_date,
        status=EntryStatus.waiting.value,
        added_by=added_by,
    )
    try:
        async with db.begin_nested():
            db.add(entry)
            await db.flush()
    except IntegrityError:  # joined at the same moment by another request (a double click)
        raise _already_waitlisted(await active_entry(db, location.id, recipient_id, product_code)) from None
    audit(
        db,
        actor=added_by,
        location_id=location.id,
        entity="waitlist_entry",
        entity_id=entry.id,
        action="join",
        changes={
            "recipient_id": [None, recipient_id],
            "product_code": [None, product_code],
            "dates": [None, f"{dates.earliest_date}..{dates.latest_date}"],
        },
    )
    tell_waitlist_after_commit(db, temporal, settings, location.id, product_code, Review("joined"))
    return entry


async def load_entry(entry_id: RecordId, actor: Reader, db: SessionDep) -> WaitlistEntry:
    """An entry of the active location's waitlist; another location's is a 404."""
    entry = (
        await db.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.id == entry_id, WaitlistEntry.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()
    if entry is None:
        raise NotFound("no such waitlist entry at this location")
    return entry


EntryDep = Annotated[WaitlistEntry, Depends(load_entry)]


@router.post("", response_model=EntryOut, status_code=201)
async def join_waitlist(
    body: JoinIn, actor: Scheduler, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> EntryOut:
    """Adds a recipient to this location's waitlist for a product between two dates."""
    if await db.get(Recipient, body.recipient_id) is None:
        raise NotFound("no such recipient")
    entry = await add_to_waitlist(
        db,
        temporal,
        settings,
        location=actor.location,
        recipient_id=body.recipient_id,
        product_code=body.product_code,
        dates=body,
        added_by=actor.actor,
    )
    return await entry_out(db, entry)


@router.get("", response_model=list[EntryOut])
async def list_waitlist(
    actor: Reader,
    db: SessionDep,
    status: Annotated[Status | None, Query()] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    recipient_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> list[EntryOut]:
    """This location's waitlist in the order seats are offered."""
    query = select(WaitlistEntry).where(WaitlistEntry.location_id == actor.location.id)
    if status:
        query = query.where(WaitlistEntry.status == status)
    if product_code:
        query = query.where(WaitlistEntry.product_code == product_code)
    if recipient_id:
        query = query.where(WaitlistEntry.recipient_id == recipient_id)
    rows = await db.execute(query.order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(500))
    return [await entry_out(db, entry) for entry in rows.scalars()]


@router.get("/{entry_id}", response_model=EntryOut)
async def read_entry(entry_id: RecordId, actor: Reader, entry: EntryDep, db: SessionDep) -> EntryOut:
    return await entry_out(db, entry)


@router.post("/{entry_id}/remove", response_model=EntryOut)
async def remove_entry(entry_id: RecordId, actor: Scheduler, entry: EntryDep, db: SessionDep) -> EntryOut:
    """Takes a waiting recipient off the list (one holding an offer keeps it until it runs out)."""
    if entry.status != EntryStatus.waiting:
        raise Conflict(f"this entry is {entry.status}; only a waiting one is removed", code="entry_status")
    entry.status = EntryStatus.removed.value
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="waitlist_entry",
        entity_id=entry.id,
        action="remove",
        changes={"status": [EntryStatus.waiting.value, EntryStatus.removed.value]},
    )
    return await entry_out(db, entry)
