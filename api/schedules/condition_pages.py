"""The conditions that change a recipient's schedule (e.g. immunocompromised), recorded and
removed from the recipient page by those who document doses (services.schedules, as the JSON
routes do: who and when are kept, and audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from api.deps import Documenter, RecordId, SessionDep
from api.errors import Unprocessable
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, redirect
from services import schedules as service

router = APIRouter(prefix="/portal/recipients", route_class=PageRoute, include_in_schema=False)

NO_REASON = N_("Say why the condition no longer applies (3 characters or more).")


@router.post("/{recipient_id}/conditions")
async def record_condition_submit(
    recipient_id: RecordId, actor: Documenter, form: CheckedForm, db: SessionDep
) -> Response:
    await service.record_condition(
        db,
        recipient_id=recipient_id,
        condition=str(form.get("condition", "")),
        actor=actor.actor,
        location_id=actor.location.id,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=condition_recorded")


@router.post("/{recipient_id}/conditions/{condition}/remove")
async def remove_condition_submit(
    recipient_id: RecordId,
    condition: Annotated[str, Path(max_length=40)],
    actor: Documenter,
    form: CheckedForm,
    db: SessionDep,
) -> Response:
    reason = str(form.get("reason", "")).strip()
    if not 3 <= len(reason) <= 2000:
        raise Unprocessable(NO_REASON, errors=[{"field": "reason", "message": "required"}])
    await service.remove_condition(
        db,
        recipient_id=recipient_id,
        condition=condition,
        actor=actor.actor,
        location_id=actor.location.id,
        reason=reason,
    )
    return redirect(f"/portal/recipients/{recipient_id}?notice=condition_removed")
