"""Loaders and service calls the dose routes and pages share."""

from __future__ import annotations

from api.deps import Actor, Wiring, at_active_location
from api.doses.schemas import DoseEdit, DoseIn, dose_editing, new_dose
from records.journeys import Dose
from services import doses

DoseDep = at_active_location(Dose, id_name="dose_id", message="no such dose at this location", id_type=int)


async def document(
    wiring: Wiring, actor: Actor, recipient_id: int, body: DoseIn, key: str | None
) -> doses.Documented:
    """Documents the dose ``body`` describes, given by the actor at their active location."""
    return await doses.document_dose(
        **wiring.io_sessions,
        recipient_id=recipient_id,
        location=actor.location,
        actor=actor.actor,
        actor_name=actor.user.full_name,
        new=new_dose(body),
        key=key,
    )


async def edit(wiring: Wiring, actor: Actor, dose: Dose, body: DoseEdit) -> Dose:
    """Corrects ``dose`` as ``body`` says, by the actor at their active location."""
    return await doses.edit_dose(
        **wiring.io_sessions, dose=dose, location=actor.location, actor=actor.actor, edit=dose_editing(body)
    )
