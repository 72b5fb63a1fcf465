"""Driving journey workflows: which series is current, its records as a start input, and
update-with-start through the gateway.

Every change to a series goes through its workflow as one Workflow Update, sent with
update-with-start: the first booking or walk-in dose creates the workflow, a later call
reaches the running one. The start input is the series as the records know it, so a series
that had finished (and is reopened by removing a dose) resumes from its records. The update
ID is the client's idempotency key, so a retried request is answered once.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.journey_messages import (
    AppointmentFact,
    DoseFact,
    JourneyInput,
    JourneyStatus,
    JourneyView,
    journey_id,
)
from domain.scheduling import ACTIVE_STATUSES
from domain.settings import Settings
from records.journeys import Dose, Journey
from records.products import Product
from records.schedules import rule_from_json
from records.scheduling import Appointment
from services.temporal import TemporalGateway
from workflows.journey import JourneyWorkflow

QUERY_TIMEOUT = timedelta(seconds=5)  # a view is a convenience: the records answer without it


async def current_series(db: AsyncSession, recipient_id: int) -> tuple[str, int]:
    """The recipient's open series, or the number the next one gets (one query: a booking asks
    this on every request)."""
    active = Journey.status == JourneyStatus.active.value
    open_series, last = (
        await db.execute(
            select(func.max(case((active, Journey.series_no))), func.max(Journey.series_no)).where(
                Journey.recipient_id == recipient_id
            )
        )
    ).one()
    if open_series is None:
        open_series = (last or 0) + 1
    return journey_id(recipient_id, open_series), open_series


def new_series_input(settings: Settings, recipient_id: int, series_no: int) -> JourneyInput:
    """The start input of a series not begun: no doses, no appointments (no journey row yet)."""
    return JourneyInput(
        journey_id=journey_id(recipient_id, series_no),
        recipient_id=recipient_id,
        series_no=series_no,
        day_seconds=settings.day_seconds,
        reminder_lead_seconds=settings.reminder_lead_seconds,
        idle_close_seconds=settings.journey_idle_close_days * settings.day_seconds,
    )


async def journey_snapshot(
    db: AsyncSession, settings: Settings, recipient_id: int, series_no: int
) -> JourneyInput:
    """The series as the records hold it: the start input of a (re)started workflow."""
    jid = journey_id(recipient_id, series_no)
    journey = await db.get(Journey, jid)
    fresh = new_series_input(settings, recipient_id, series_no)
    if journey is None:
        return fresh  # a series not begun: no doses, no appointments (they follow its row)
    rule = None
    if journey is not None and journey.series_rule:
        rule = rule_from_json(journey.series_rule)
    elif journey is not None and journey.product_code and journey.product_version:
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
    return replace(
        fresh,
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
    temporal: TemporalGateway,
    settings: Settings,
    snapshot: JourneyInput,
    update: Any,
    argument: Any,
    *,
    operation: str,
    key: str | None,
) -> Any:
    """Sends one update to the series' workflow (starting it if needed); a refusal comes back as one."""
    return await temporal.update_with_start(
        JourneyWorkflow.run,
        snapshot,
        workflow_id=snapshot.journey_id,
        update=update,
        argument=argument,
        update_id=update_id(operation, key),
        unavailable="the series could not be updated just now; try again",
        unavailable_code="journey_unavailable",
    )


async def query_view(temporal: TemporalGateway, jid: str) -> JourneyView | None:
    """The series as its workflow sees it; None when it does not run or no worker answers in time."""
    view: JourneyView | None = await temporal.query(jid, JourneyWorkflow.view, timeout=QUERY_TIMEOUT)
    return view
