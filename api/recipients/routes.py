"""Find, register, read and edit recipients (shared across locations)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Reader, RecordId, Registrar, SessionDep
from api.recipients.schemas import RecipientCreate, RecipientOut, RecipientPage, RecipientUpdate
from services import recipients

router = APIRouter(prefix="/recipients", tags=["recipients"])


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
    rows, total = await recipients.search(
        db, name=name, date_of_birth=date_of_birth, phone=phone, email=email, page=page, page_size=page_size
    )
    return RecipientPage(
        items=[RecipientOut.model_validate(r) for r in rows], total=total, page=page, page_size=page_size
    )


@router.post("", response_model=RecipientOut, status_code=201)
async def register_recipient(body: RecipientCreate, actor: Registrar, db: SessionDep) -> RecipientOut:
    return RecipientOut.model_validate(await recipients.register(db, actor, body))


@router.get("/{recipient_id}", response_model=RecipientOut)
async def read_recipient(recipient_id: RecordId, actor: Reader, db: SessionDep) -> RecipientOut:
    return RecipientOut.model_validate(await recipients.load_recipient(db, recipient_id))


@router.patch("/{recipient_id}", response_model=RecipientOut)
async def edit_recipient(
    recipient_id: RecordId, body: RecipientUpdate, actor: Registrar, db: SessionDep
) -> RecipientOut:
    recipient = await recipients.load_recipient(db, recipient_id)
    return RecipientOut.model_validate(await recipients.edit(db, actor, recipient, body))
