"""Documenting doses: walk-in or at an appointment, at any location; edit and remove-in-error;
and the series' JSON read. The rules live in services/doses.py."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Documenter, IdempotencyKey, Reader, SessionDep, WiringDep
from api.doses.deps import DoseDep, document, edit
from api.doses.schemas import DocumentedOut, DoseEdit, DoseIn, DoseOut, RemoveIn
from domain.journey_messages import JourneyView
from services import doses as service

router = APIRouter(tags=["doses"])
series_router = APIRouter(tags=["journeys"])


def documented_out(documented: service.Documented) -> DocumentedOut:
    out = DoseOut.model_validate(documented.dose)
    return DocumentedOut(**out.model_dump(), series_complete=documented.series_complete)


@router.post("/recipients/{recipient_id}/doses", response_model=DocumentedOut, status_code=201)
async def document_dose(
    recipient_id: int,
    body: DoseIn,
    actor: Documenter,
    wiring: WiringDep,
    idempotency_key: IdempotencyKey = None,
) -> DocumentedOut:
    """Documents the recipient's next dose given here (walk-in or at their appointment)."""
    documented = await document(wiring, actor, recipient_id, body, idempotency_key or body.idempotency_key)
    return documented_out(documented)


@router.get("/recipients/{recipient_id}/doses", response_model=list[DoseOut])
async def list_doses(recipient_id: int, actor: Reader, db: SessionDep) -> list[DoseOut]:
    """Every dose of the recipient, wherever given (removed ones flagged, with the reason)."""
    return [DoseOut.model_validate(d) for d in await service.recipient_doses(db, recipient_id)]


@router.patch("/doses/{dose_id}", response_model=DoseOut)
async def edit_dose(
    dose_id: int, body: DoseEdit, actor: Documenter, dose: DoseDep, wiring: WiringDep
) -> DoseOut:
    """Corrects a documented dose; who and why go to the audit log."""
    edited = await edit(wiring, actor, dose, body)
    return DoseOut.model_validate(edited)


@router.post("/doses/{dose_id}/remove", response_model=DoseOut)
async def remove_dose(
    dose_id: int, body: RemoveIn, actor: Documenter, dose: DoseDep, wiring: WiringDep
) -> DoseOut:
    """Removes a dose entered in error (reason required): the series steps back and its timers follow."""
    removed = await service.remove_dose(
        **wiring.io_sessions, dose=dose, actor=actor.actor, reason=body.reason
    )
    return DoseOut.model_validate(removed)


@series_router.get("/recipients/{recipient_id}/journey", response_model=JourneyView)
async def read_journey(recipient_id: int, actor: Reader, wiring: WiringDep) -> JourneyView:
    """The current (or last) series, from its workflow: doses, appointment, what it waits for next."""
    return await service.series_view(**wiring.io, recipient_id=recipient_id)
