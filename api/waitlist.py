"""Waitlists: staff add a recipient to their location's waitlist for a product and dates
(a recipient can join through their booking link too); free seats are offered by the
location's waitlist workflow (workflows/waitlist.py)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Reader, RecordId, Scheduler, SessionDep, SettingsDep, TemporalDep
from api.errors import Conflict, NotFound
from domain.scheduling import (
    EntryStatus,
)
from records.audit import audit
from records.recipients import Recipient
from records.waitlist import WaitlistEntry, WaitlistOffer
from services.waitlist import add_to_waitlist

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
