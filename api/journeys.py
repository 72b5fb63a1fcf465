"""Driving journey workflows from the API: which series is current, and update-with-start.

Every change to a series goes through its workflow as one Workflow Update,
sent with update-with-start: the first booking or walk-in dose creates the
workflow, a later call reaches the running one. The start input is the series
as the records know it, so a series that had finished (and is reopened by
removing a dose) resumes from its records. The update ID is the client's
idempotency key, so a retried request is answered once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.journey import REFUSED, AppointmentFact, DoseFact
from api.deps import Reader, SessionDep, SettingsDep, TemporalDep, get_sessions
from api.errors import ApiError, Conflict, NotFound, Unprocessable
from domain.settings import Settings
from records.journeys import Dose, Journey, JourneyStatus, journey_id
from records.products import Product
from records.recipients import Recipient
from records.scheduling import ACTIVE_STATUSES, Appointment
from workflows.journey import JourneyInput, JourneyView, JourneyWorkflow

router = APIRouter(tags=["journeys"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=120,
        description="Send the same key when retrying a request: it takes effect once.",
    ),
]


# For reading what the workflow wrote: the request's own transaction ended before the update.
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


QUERY_TIMEOUT = timedelta(seconds=5)


class ServiceUnavailable(ApiError):
    status_code = 503


async def current_series(db: AsyncSession, recipient_id: int) -> tuple[str, int]:
    """The recipient's open series, or the number the next one gets."""
    open_series = (
        await db.execute(
            select(Journey.series_no)
            .where(Journey.recipient_id == recipient_id, Journey.status == JourneyStatus.active.value)
            .order_by(Journey.series_no.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if open_series is None:
        last = (
            await db.execute(select(func.max(Journey.series_no)).where(Journey.recipient_id == recipient_id))
        ).scalar_one()
        open_series = (last or 0) + 1
    return journey_id(recipient_id, open_series), open_series


async def journey_snapshot(
    db: AsyncSession, settings: Settings, recipient_id: int, series_no: int
) -> JourneyInput:
    """The series as the records hold it: the start input of a (re)started workflow."""
    jid = journey_id(recipient_id, series_no)
    journey = await db.get(Journey, jid)
    rule = None
    if journey is not None and journey.product_code and journey.product_version:
        product = (
            await db.execute(
                select(Product).where(
                    Product.code == journey.product_code, Product.version == journey.product_version
                )
            )
        ).scalar_one_or_none()
        rule = product.rule() if product else None
    doses = (
        await db.execute(select(Dose).where(Dose.journey_id == jid).order_by(Dose.dose_number, Dose.id))
    ).scalars()
    kept, removals = [], 0
    for dose in doses:
        if dose.removed:
            removals += 1
        else:
            kept.append(DoseFact.of(dose))
    appointment = (
        await db.execute(
            select(Appointment)
            .where(Appointment.journey_id == jid, Appointment.status.in_(ACTIVE_STATUSES))
            .order_by(Appointment.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return JourneyInput(
        journey_id=jid,
        recipient_id=recipient_id,
        series_no=series_no,
        day_seconds=settings.day_seconds,
        reminder_lead_seconds=settings.reminder_lead_seconds,
        idle_close_seconds=settings.journey_idle_close_days * settings.day_seconds,
        rule=rule,
        doses=kept,
        appointment=AppointmentFact.of(appointment) if appointment else None,
        removals=removals,
    )


async def end_transaction(db: AsyncSession) -> None:
    """Commit the request's reads before waiting on the workflow: its activity writes the same
    database, and on SQLite an open request transaction would hold the write lock meanwhile.
    The request's session is finished after this; read the outcome with a fresh one (SessionsDep)."""
    await db.commit()


def update_id(operation: str, key: str | None) -> str:
    return f"{operation}:{key or uuid.uuid4()}"


async def drive(
    temporal: Client,
    settings: Settings,
    snapshot: JourneyInput,
    update: Any,
    argument: Any,
    *,
    operation: str,
    key: str | None,
) -> Any:
    """Sends one update to the series' workflow (starting it if needed); refusals become API errors."""
    start = WithStartWorkflowOperation(
        JourneyWorkflow.run,
        snapshot,
        id=snapshot.journey_id,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        return await temporal.execute_update_with_start_workflow(
            update, argument, start_workflow_operation=start, id=update_id(operation, key)
        )
    except WorkflowUpdateFailedError as failure:
        raise refusal_error(failure.cause) from None
    except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as failure:
        raise ServiceUnavailable(
            f"the series could not be updated just now; try again ({type(failure).__name__})",
            code="journey_unavailable",
        ) from None


def refusal_error(cause: BaseException) -> ApiError:
    while not (isinstance(cause, ApplicationError) and cause.type == REFUSED) and cause.__cause__:
        cause = cause.__cause__
    if isinstance(cause, ApplicationError) and cause.type == REFUSED:
        info = dict(cause.details[0]) if cause.details else {}
        status = int(info.pop("status", 409))
        code = info.pop("code", None)
        error_type = {404: NotFound, 422: Unprocessable}.get(status, Conflict)
        return error_type(cause.message, code=code, **info)
    return ServiceUnavailable("the series could not be updated just now; try again", code="journey_failed")


async def query_view(temporal: Client, jid: str) -> JourneyView | None:
    try:
        return await temporal.get_workflow_handle(jid).query(JourneyWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        return None  # no such workflow, or no worker to answer: the records answer instead


@router.get("/recipients/{recipient_id}/journey", response_model=JourneyView)
async def read_journey(
    recipient_id: int, actor: Reader, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> JourneyView:
    """The current (or last) series, from its workflow: doses, appointment, what it waits for next."""
    if await db.get(Recipient, recipient_id) is None:
        raise NotFound("no such recipient")
    jid, series_no = await current_series(db, recipient_id)
    if await db.get(Journey, jid) is None and series_no > 1:
        series_no -= 1
        jid = journey_id(recipient_id, series_no)
    snapshot = await journey_snapshot(db, settings, recipient_id, series_no)
    await end_transaction(db)
    view = await query_view(temporal, jid)
    if view is not None:
        return view
    if not snapshot.doses and snapshot.appointment is None:
        raise NotFound("this recipient has no dose series yet")
    rule = snapshot.rule
    return JourneyView(
        journey_id=jid,
        recipient_id=recipient_id,
        series_no=series_no,
        product_code=rule.code if rule else None,
        product_version=rule.version if rule else None,
        doses_required=rule.doses if rule else None,
        doses=snapshot.doses,
        appointment=snapshot.appointment,
        complete=bool(rule and len(snapshot.doses) >= rule.doses),
        next_dose_number=None,
        next_dose_earliest=None,
        next_dose_latest=None,
        next_event=None,
        next_event_at=None,
    )
