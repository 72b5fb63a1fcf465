"""Waitlists: staff add a recipient to their location's waitlist for a product and dates
(a recipient can join through their booking link too); free seats are offered by the
location's waitlist workflow (workflows/waitlist.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Reader, RecordId, Scheduler, SessionDep, WiringDep
from api.waitlist.deps import EntryDep
from api.waitlist.schemas import EntryOut, JoinIn, Status, entry_out
from services import waitlist

router = APIRouter(prefix="/waitlist", tags=["waitlist"])


@router.post("", response_model=EntryOut, status_code=201)
async def join_waitlist(body: JoinIn, actor: Scheduler, wiring: WiringDep) -> EntryOut:
    """Adds a recipient to this location's waitlist for a product between two dates."""
    entry = await waitlist.join(
        **wiring.io,
        location=actor.location,
        recipient_id=body.recipient_id,
        product_code=body.product_code,
        dates=body,
        added_by=actor.actor,
    )
    return await entry_out(wiring.db, entry)


@router.get("", response_model=list[EntryOut])
async def list_waitlist(
    actor: Reader,
    db: SessionDep,
    status: Annotated[Status | None, Query()] = None,
    product_code: Annotated[str | None, Query(max_length=40)] = None,
    recipient_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> list[EntryOut]:
    """This location's waitlist in the order seats are offered."""
    rows = await waitlist.entries(
        db, actor.location.id, status=status, product_code=product_code, recipient_id=recipient_id
    )
    return [await entry_out(db, entry) for entry in rows]


@router.get("/{entry_id}", response_model=EntryOut)
async def read_entry(entry_id: RecordId, actor: Reader, entry: EntryDep, db: SessionDep) -> EntryOut:
    return await entry_out(db, entry)


@router.post("/{entry_id}/remove", response_model=EntryOut)
async def remove_entry(entry_id: RecordId, actor: Scheduler, entry: EntryDep, db: SessionDep) -> EntryOut:
    """Takes a waiting recipient off the list (one holding an offer keeps it until it runs out)."""
    return await entry_out(db, await waitlist.remove_entry(db, entry=entry, actor=actor.actor))
