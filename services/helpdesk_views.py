"""What the help desk's readers see: case cards and details (notes, attachments, the event log),
and the agents' queue with SLA state computed from the recorded event log (searched, filtered,
sorted). Read-only; `services.helpdesk` drives cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.business_hours import BusinessCalendar
from domain.refusals import Invalid, NotFound
from domain.sla import EVENT_KINDS, PRIORITIES, CaseEvent, SlaState, SlaTargets, compute_sla
from records.db import utcnow
from records.helpdesk import (
    Agent,
    Case,
    CaseAttachment,
    CaseEventRecord,
    CaseNote,
    Category,
    Requester,
    Team,
    Topic,
)
from services.helpdesk_survey import Satisfaction, satisfaction_of

SlaStatus = Literal["breached", "at_risk", "ok", "paused", "met"]


QueueSort = Literal["urgency", "priority", "newest", "oldest", "updated"]


QUEUE_SORTS: tuple[str, ...] = ("urgency", "priority", "newest", "oldest", "updated")


@dataclass(frozen=True)
class CaseCard:
    """A case with the names it is shown with."""

    case: Case
    category: str
    topic: str
    team: str
    linked_case_number: int | None
    category_es: str = ""  # "" when the row has no Spanish name
    topic_es: str = ""


@dataclass(frozen=True)
class QueueEntry:
    """A case as the agents' queue shows it."""

    card: CaseCard
    assignee: Agent | None
    requester: Requester
    sla: SlaState | None


@dataclass(frozen=True)
class CaseDetail:
    """A case with the notes and attachments its reader may see."""

    card: CaseCard
    notes: list[CaseNote]
    attachments: list[CaseAttachment]


@dataclass(frozen=True)
class AgentCaseDetail(CaseDetail):
    entry: QueueEntry
    events: list[CaseEventRecord]
    satisfaction: Satisfaction | None = None  # the requester's rating, once a survey was asked


async def card_of(db: AsyncSession, case: Case) -> CaseCard:
    category = await db.get(Category, case.category_id)
    topic = await db.get(Topic, case.topic_id)
    team = await db.get(Team, case.team_id)
    linked = await db.get(Case, case.linked_case_id) if case.linked_case_id else None
    assert category is not None and topic is not None and team is not None and case.number is not None
    return CaseCard(
        case=case,
        category=category.name,
        topic=topic.name,
        team=team.name,
        linked_case_number=linked.number if linked else None,
        category_es=category.name_es,
        topic_es=topic.name_es,
    )


async def requester_case(*, db: AsyncSession, requester: Requester, number: int) -> Case:
    """A case of this requester; any other case is a 404."""
    case = (
        await db.execute(select(Case).where(Case.number == number, Case.requester_id == requester.id))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound("no such case")
    return case


async def team_case(*, db: AsyncSession, number: int, team_ids: Iterable[int]) -> Case:
    """A case of one of the agent's teams; any other case is a 404."""
    case = (
        await db.execute(select(Case).where(Case.number == number, Case.team_id.in_(list(team_ids))))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound("no such case in your teams' queues")
    return case


async def requester_cases(*, db: AsyncSession, requester: Requester) -> list[CaseCard]:
    cases = (
        await db.execute(select(Case).where(Case.requester_id == requester.id).order_by(Case.id.desc()))
    ).scalars()
    return [await card_of(db, case) for case in cases]


async def _notes(db: AsyncSession, case: Case, *, public_only: bool) -> list[CaseNote]:
    query = select(CaseNote).where(CaseNote.case_id == case.id)
    if public_only:
        query = query.where(CaseNote.visibility == "public")
    return list((await db.execute(query.order_by(CaseNote.seq))).scalars())


async def _attachments(db: AsyncSession, case: Case) -> list[CaseAttachment]:
    return list((await db.execute(select(CaseAttachment).where(CaseAttachment.case_id == case.id))).scalars())


async def requester_case_detail(*, db: AsyncSession, requester: Requester, number: int) -> CaseDetail:
    """My case with its public notes (internal notes never appear here)."""
    case = await requester_case(db=db, requester=requester, number=number)
    return CaseDetail(
        card=await card_of(db, case),
        notes=await _notes(db, case, public_only=True),
        attachments=await _attachments(db, case),
    )


async def agent_case_detail(*, db: AsyncSession, case: Case) -> AgentCaseDetail:
    """Everything about the case: internal and public notes, the event log, SLA state."""
    states = await sla_of_cases(db, [case.id])
    entry = await queue_entry(db, case, states.get(case.id))
    events = (
        await db.execute(
            select(CaseEventRecord).where(CaseEventRecord.case_id == case.id).order_by(CaseEventRecord.seq)
        )
    ).scalars()
    return AgentCaseDetail(
        card=entry.card,
        notes=await _notes(db, case, public_only=False),
        attachments=await _attachments(db, case),
        entry=entry,
        events=list(events),
        satisfaction=await satisfaction_of(db, case),
    )


def sla_status(sla: SlaState | None) -> SlaStatus:
    """One word per case for the queue: the worst of its two targets."""
    if sla is None:
        return "ok"
    statuses = {target.status for target in sla.targets}
    for status in ("breached", "at_risk", "ok", "paused"):
        if status in statuses:
            return status
    return "met"


async def queue_entry(db: AsyncSession, case: Case, sla: SlaState | None) -> QueueEntry:
    assignee = await db.get(Agent, case.assignee_id) if case.assignee_id else None
    requester = await db.get(Requester, case.requester_id)
    assert requester is not None
    return QueueEntry(card=await card_of(db, case), assignee=assignee, requester=requester, sla=sla)


async def queue_in_order(
    *,
    db: AsyncSession,
    agent: Agent,
    team_ids: Iterable[int],
    state: list[str] | None = None,
    priority: list[str] | None = None,
    sla: list[SlaStatus] | None = None,
    assignee: str | None = None,
    search: str = "",
    team_id: int | None = None,
    sort: QueueSort = "urgency",
) -> list[tuple[Case, SlaState | None]]:
    """The agent's teams' cases (not closed unless asked) in the queue's order (oldest breach
    first, then nearest due, then by case; or as `sort` says), each with its SLA state; a page
    of it becomes entries with `queue_entry`. `search` finds a case number, words of the
    subject, the requester's name or email, or text of a public note."""
    query = select(Case).where(Case.team_id.in_(list(team_ids)))
    if team_id is not None:
        query = query.where(Case.team_id == team_id)
    if search.strip():
        query = query.where(_matches(search.strip()))
    query = query.where(Case.state.in_(state)) if state else query.where(Case.state != "closed")
    if priority:
        query = query.where(Case.priority.in_(priority))
    if assignee == "me":
        query = query.where(Case.assignee_id == agent.id)
    elif assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    elif assignee:
        if not (assignee.isascii() and assignee.isdigit() and len(assignee) <= 9):
            raise Invalid("assignee is 'me', 'none' or an agent id", code="bad_assignee")
        query = query.where(Case.assignee_id == int(assignee))
    cases = list((await db.execute(query)).scalars())
    states = await sla_of_cases(db, [c.id for c in cases])
    if sla:
        cases = [c for c in cases if sla_status(states.get(c.id)) in sla]

    def order(case: Case) -> tuple[Any, ...]:
        state_of = states.get(case.id)
        return (*state_of.breach_sort_key, case.id) if state_of else (3, datetime.max, case.id)

    if sort not in QUEUE_SORTS:
        raise Invalid(f"sort is one of {', '.join(QUEUE_SORTS)}", code="bad_sort")
    if sort == "urgency":
        cases.sort(key=order)
    elif sort == "priority":
        rank = {name: index for index, name in enumerate(PRIORITIES)}
        cases.sort(key=lambda c: (rank.get(c.priority, len(rank)), order(c)))
    else:  # newest / oldest by when opened, updated: most recently changed first
        column = "updated_at" if sort == "updated" else "created_at"
        cases.sort(key=lambda c: (getattr(c, column), c.id), reverse=sort != "oldest")
    return [(case, states.get(case.id)) for case in cases]


def _matches(search: str) -> Any:
    """A case whose number, subject, requester or public note text holds `search`."""
    pattern = f"%{search.lower().replace('%', '').replace('_', '')}%"
    number = search.lstrip("#").strip()
    requesters = select(Requester.id).where(
        or_(
            func.lower(Requester.first_name + " " + Requester.last_name).like(pattern),
            func.lower(Requester.email).like(pattern),
        )
    )
    public_notes = select(CaseNote.case_id).where(
        CaseNote.visibility == "public", func.lower(CaseNote.body).like(pattern)
    )
    found = or_(
        func.lower(Case.subject).like(pattern),
        Case.requester_id.in_(requesters),
        Case.id.in_(public_notes),
    )
    is_number = number.isascii() and number.isdigit() and len(number) <= 9
    return or_(Case.number == int(number), found) if is_number else found


def sla_events(records: Iterable[CaseEventRecord]) -> list[CaseEvent]:
    """The SLA-relevant part of a recorded event log, in log order. A public note is a requester
    writing or an agent answering (the next-update clock), as the case workflow counts it."""
    events = []
    for r in sorted(records, key=lambda r: r.seq):
        if r.kind in EVENT_KINDS:
            priority = r.priority if r.kind in ("created", "priority") else None
            events.append(CaseEvent(at=r.at, kind=r.kind, priority=priority))
        elif r.kind == "note" and (r.details or {}).get("visibility") == "public":
            wrote = "agent_answered" if r.actor.startswith("agent:") else "requester_wrote"
            events.append(CaseEvent(at=r.at, kind=wrote))
    return events


async def sla_of_cases(db: AsyncSession, case_ids: list[int]) -> dict[int, SlaState]:
    """SLA state of each case from its recorded events, now: the same pure function the
    workflow uses, with the calendar and targets recorded in the case's "created" event."""
    if not case_ids:
        return {}
    by_case: dict[int, list[CaseEventRecord]] = defaultdict(list)
    rows = await db.execute(
        select(CaseEventRecord).where(
            CaseEventRecord.case_id.in_(case_ids), CaseEventRecord.kind.in_(sorted(EVENT_KINDS | {"note"}))
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


async def agent_teams(*, db: AsyncSession, team_ids: Iterable[int]) -> list[Team]:
    return list(
        (await db.execute(select(Team).where(Team.id.in_(list(team_ids))).order_by(Team.name))).scalars()
    )
