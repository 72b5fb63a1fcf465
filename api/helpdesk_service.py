"""Help-desk services shared by the requester and agent routes: routing and opening a
case, driving its workflow, and SLA state computed from the recorded event log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, NotFound
from api.errors import ServiceUnavailable as Unavailable
from domain.business_hours import BusinessCalendar
from domain.helpdesk import CaseAction, CaseStart, CaseView, case_workflow_id
from domain.settings import Settings
from domain.sla import EVENT_KINDS, CaseEvent, SlaState, SlaTargets, compute_sla
from records.db import utcnow
from records.helpdesk import (
    FIRST_CASE_NUMBER,
    Case,
    CaseAttachment,
    CaseEventRecord,
    CaseNote,
    Category,
    Requester,
    RoutingRule,
    Team,
    Topic,
)
from services.temporal import TemporalGateway
from workflows.case import CaseWorkflow


class CaseSummary(BaseModel):
    number: int
    subject: str
    state: str
    priority: str
    category: str
    topic: str
    team: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    linked_case_number: int | None


class NoteOut(BaseModel):
    at: datetime
    author: str
    visibility: str
    purpose: str
    body: str

    @classmethod
    def of(cls, note: CaseNote) -> NoteOut:
        return cls(
            at=note.at,
            author=note.author_name,
            visibility=note.visibility,
            purpose=note.purpose,
            body=note.body,
        )


async def summarize(db: AsyncSession, case: Case) -> CaseSummary:
    category = await db.get(Category, case.category_id)
    topic = await db.get(Topic, case.topic_id)
    team = await db.get(Team, case.team_id)
    linked = await db.get(Case, case.linked_case_id) if case.linked_case_id else None
    assert category is not None and topic is not None and team is not None and case.number is not None
    return CaseSummary(
        number=case.number,
        subject=case.subject,
        state=case.state,
        priority=case.priority,
        category=category.name,
        topic=topic.name,
        team=team.name,
        created_at=case.created_at,
        updated_at=case.updated_at,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
        linked_case_number=linked.number if linked else None,
    )


async def route(db: AsyncSession, category: Category, topic: Topic) -> Team:
    """The team for a category and topic: a topic rule, else the category's rule, else the default team."""
    rules = (
        await db.execute(
            select(RoutingRule).where(
                RoutingRule.category_id == category.id,
                (RoutingRule.topic_id == topic.id) | RoutingRule.topic_id.is_(None),
            )
        )
    ).scalars()
    chosen = sorted(rules, key=lambda rule: rule.topic_id is None)
    if chosen:
        team = await db.get(Team, chosen[0].team_id)
    else:
        team = (await db.execute(select(Team).where(Team.is_default).order_by(Team.id))).scalars().first()
    if team is None:
        raise Conflict("the help desk has no team to take this case; tell the administrator")
    return team


async def open_case(
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    *,
    requester: Requester,
    category: Category,
    topic: Topic,
    subject: str,
    description: str,
    contact_phone: str,
    linked_case: Case | None = None,
) -> tuple[Case, Callable[[], Awaitable[None]]]:
    """Adds the case and its "created" event; returns it and the start of its workflow,
    to run once the transaction has committed (the workflow owns the case from then on)."""
    team = await route(db, category, topic)
    now = utcnow()
    calendar = settings.helpdesk_calendar().to_dict()
    sla_targets = settings.helpdesk_targets().to_setting()
    case = Case(
        requester_id=requester.id,
        team_id=team.id,
        category_id=category.id,
        topic_id=topic.id,
        state="new",
        priority=topic.default_priority,
        subject=subject,
        description=description,
        contact_phone=contact_phone,
        linked_case_id=linked_case.id if linked_case else None,
        created_at=now,
        updated_at=now,
    )
    db.add(case)
    await db.flush()
    # Ids are unique and increasing on every database, so the number is too.
    case.number = FIRST_CASE_NUMBER - 1 + case.id
    db.add(
        CaseEventRecord(
            case_id=case.id,
            seq=1,
            at=now,
            kind="created",
            actor=f"requester:{requester.id}",
            priority=case.priority,
            # The calendar and targets the case is measured by, fixed at intake like the workflow's.
            details={
                "team": team.name,
                "linked_case_number": linked_case.number if linked_case else None,
                "calendar": calendar,
                "sla_targets": sla_targets,
            },
        )
    )
    base = settings.public_base_url.rstrip("/")
    start = CaseStart(
        case_id=case.id,
        number=case.number,
        created_at=now,
        priority=case.priority,
        subject=subject,
        requester_email=requester.email,
        requester_name=requester.full_name,
        language=requester.preferred_language,
        team_name=team.name,
        team_email=team.email,
        calendar=calendar,
        sla_targets=sla_targets,
        reopen_window_seconds=settings.helpdesk_reopen_window_seconds,
        auto_close_seconds=settings.helpdesk_auto_close_seconds,
        time_zone=settings.helpdesk_time_zone,
        requester_url=f"{base}/helpdesk/cases/{case.number}",
        agent_url=f"{base}/helpdesk/agent/cases/{case.number}",
        linked_number=linked_case.number if linked_case else None,
    )

    case_id = case.id
    bind = db.bind

    async def start_workflow() -> None:
        try:
            await temporal.start(
                CaseWorkflow.run, start, workflow_id=case_workflow_id(start.number), once=False
            )
        except Exception as exc:
            # Temporal did not take the case: take the committed row back (its events and
            # attachments go with it), so no case is left without the workflow that owns it.
            async with AsyncSession(bind) as cleanup, cleanup.begin():
                await cleanup.execute(delete(Case).where(Case.id == case_id))
            raise Unavailable("the help desk cannot take new cases right now; try again shortly") from exc

    return case, start_workflow


async def act(db: AsyncSession, temporal: TemporalGateway, case: Case, action: CaseAction) -> CaseView:
    """Sends a change to the case's workflow and returns the state it answers with.

    The request's transaction is committed first: the workflow records the change
    through an activity, which must not wait behind this request's database lock.
    Nothing may be read from `db` after this call.
    """
    if case.state == "closed":
        raise Conflict(f"case {case.number} is closed", code="invalid_transition")
    await db.commit()
    closed = Conflict(f"case {case.number} is closed", code="invalid_transition")
    return await temporal.update(
        case_workflow_id(case.number or 0), CaseWorkflow.act, action, result_type=CaseView, gone=closed
    )


async def attachment_response(db: AsyncSession, case: Case, attachment_id: int) -> Response:
    attachment = (
        await db.execute(
            select(CaseAttachment).where(
                CaseAttachment.id == attachment_id, CaseAttachment.case_id == case.id
            )
        )
    ).scalar_one_or_none()
    if attachment is None:
        raise NotFound("no such attachment")
    safe_name = attachment.filename.replace('"', "")
    return Response(
        content=attachment.data,
        media_type=attachment.content_type,
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )


def sla_events(records: Iterable[CaseEventRecord]) -> list[CaseEvent]:
    """The SLA-relevant part of a recorded event log, in log order."""
    return [
        CaseEvent(at=r.at, kind=r.kind, priority=r.priority if r.kind in ("created", "priority") else None)
        for r in sorted(records, key=lambda r: r.seq)
        if r.kind in EVENT_KINDS
    ]


async def sla_of_cases(db: AsyncSession, case_ids: list[int]) -> dict[int, SlaState]:
    """SLA state of each case from its recorded events, now: the same pure function the
    workflow uses, with the calendar and targets recorded in the case's "created" event."""
    if not case_ids:
        return {}
    by_case: dict[int, list[CaseEventRecord]] = defaultdict(list)
    rows = await db.execute(
        select(CaseEventRecord).where(
            CaseEventRecord.case_id.in_(case_ids), CaseEventRecord.kind.in_(sorted(EVENT_KINDS))
        )
    )
    for record in rows.scalars():
        by_case[record.case_id].append(record)
    now = utcnow()
    states = {}
    for case_id, records in by_case.items():
        created = next(r for r in records if r.kind == "created")
        calendar = BusinessCalendar.from_dict(created.details["calendar"])
        targets = SlaTargets.parse(created.details["sla_targets"])
        states[case_id] = compute_sla(sla_events(records), calendar, targets, now)
    return states
