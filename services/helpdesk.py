"""The help desk's cases: driving a case's workflow (a reply to a closed case opens a new
one), the agents' queue with SLA state computed from the recorded event log, and case
details with notes and attachments.

HTTP-free: callers pass who acts (a requester or an agent row and its actor string);
refusals are domain refusals. Intake and routing are in `services.helpdesk_intake`,
requester accounts in `services.helpdesk_accounts`.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.business_hours import BusinessCalendar
from domain.helpdesk import CaseAction, CaseView, case_workflow_id
from domain.refusals import Conflict, Invalid, NotFound
from domain.settings import Settings
from domain.sla import EVENT_KINDS, PRIORITIES, CaseEvent, SlaState, SlaTargets, compute_sla
from records.db import utcnow
from records.helpdesk import (
    Agent,
    Case,
    CaseAttachment,
    CaseEventRecord,
    CaseNote,
    CaseText,
    Category,
    Requester,
    Team,
    TeamMember,
    Topic,
)
from services import helpdesk_files
from services.helpdesk_files import FileIn
from services.helpdesk_intake import open_case
from services.temporal import TemporalGateway
from workflows.case import CaseWorkflow

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


@dataclass(frozen=True)
class Replied:
    number: int
    state: str
    # Set when the case was closed and the reply opened a new one linked to it.
    new_case_number: int | None = None


# --- reading cases --------------------------------------------------------------------------------


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
    )


@dataclass(frozen=True)
class AttachedFile:
    filename: str
    content_type: str
    data: bytes


async def attachment(*, db: AsyncSession, settings: Settings, case: Case, attachment_id: int) -> AttachedFile:
    """One attachment of the case with its contents (a download; the caller shapes the answer). The
    caller found the case as its requester's or its team's: nobody else reaches its files."""
    found = (
        await db.execute(
            select(CaseAttachment).where(
                CaseAttachment.id == attachment_id, CaseAttachment.case_id == case.id
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("no such attachment")
    data = await helpdesk_files.contents(settings, found)
    return AttachedFile(filename=found.filename, content_type=found.content_type, data=data)


# --- changing a case: always through its workflow ------------------------------------------------


async def act(
    case: Case,
    action: CaseAction,
    *,
    db: AsyncSession,
    temporal: TemporalGateway,
    body: str = "",
    files: Sequence[FileIn] = (),
    settings: Settings | None = None,
) -> CaseView:
    """Sends a change to the case's workflow and returns the state it answers with.

    A note's text (``body``) is kept here first and the workflow is given its id only, so no
    note text enters the case's history. The request's transaction is committed first: the
    workflow records the change through an activity, which must not wait behind this request's
    database lock. Nothing may be read from `db` after this call.
    """
    return await act_in_turn(case, [(action, body)], db=db, temporal=temporal, files=files, settings=settings)


async def act_in_turn(
    case: Case,
    changes: list[tuple[CaseAction, str]],
    *,
    db: AsyncSession,
    temporal: TemporalGateway,
    files: Sequence[FileIn] = (),
    settings: Settings | None = None,
) -> CaseView:
    """Several changes (action, note text) to one case, one workflow update each, in order; the
    texts (and files, kept with the last change's text) are kept and committed before the first
    is sent (as `act` does for one). Answers the state after the last. Nothing may be read from
    `db` after this call."""
    if case.state == "closed":
        raise Conflict(f"case {case.number} is closed", code="invalid_transition")
    if files:
        assert settings is not None, "attachments need the settings of the attachment store"
        helpdesk_files.checked(list(files), settings)
    actions = []
    for action, body in changes:
        if body.strip():
            text = CaseText(case_id=case.id, body=body.strip())
            db.add(text)
            await db.flush()
            action = dataclasses.replace(action, text_id=text.id)
        actions.append(action)
    for given in files:
        assert settings is not None
        last = actions[-1]
        await helpdesk_files.keep(db, settings, case, given, added_by=last.actor, text_id=last.text_id)
    await db.commit()
    closed = Conflict(f"case {case.number} is closed", code="invalid_transition")
    view: CaseView | None = None
    for action in actions:
        view = await temporal.update(
            case_workflow_id(case.number or 0), CaseWorkflow.act, action, result_type=CaseView, gone=closed
        )
    assert view is not None, "no change to send"
    return view


async def reply(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    requester: Requester,
    actor: str,
    number: int,
    body: str,
    files: Sequence[FileIn] = (),
) -> Replied:
    """A public note from the requester; a pending case goes back to open. A reply to a
    closed case opens a new case linked to it."""
    case = await requester_case(db=db, requester=requester, number=number)
    if case.state == "closed":
        category = await db.get(Category, case.category_id)
        topic = await db.get(Topic, case.topic_id)
        assert category is not None and topic is not None
        new_case = await open_case(
            db=db,
            settings=settings,
            temporal=temporal,
            requester=requester,
            category=category,
            topic=topic,
            subject=f"Re: {case.subject}"[:200],
            description=body.strip(),
            contact_phone=case.contact_phone,
            linked_case=case,
        )
        for given in helpdesk_files.checked(list(files), settings):
            await helpdesk_files.keep(db, settings, new_case, given, added_by=actor)
        return Replied(case.number or 0, case.state, new_case_number=new_case.number)
    reply_action = CaseAction(kind="reply", actor=actor)
    view = await act(case, reply_action, db=db, temporal=temporal, body=body, files=files, settings=settings)
    return Replied(view.number, view.state)


async def requester_reopen(
    *, db: AsyncSession, temporal: TemporalGateway, requester: Requester, actor: str, number: int
) -> CaseView:
    """Reopens the requester's resolved case within the reopen window (a conflict outside it)."""
    case = await requester_case(db=db, requester=requester, number=number)
    return await act(case, CaseAction(kind="reopen", actor=actor), db=db, temporal=temporal)


async def agent_act(
    case: Case,
    kind: str,
    *,
    agent: Agent,
    actor: str,
    db: AsyncSession,
    temporal: TemporalGateway,
    body: str = "",
    files: Sequence[FileIn] = (),
    settings: Settings | None = None,
    **values: Any,
) -> CaseView:
    """An agent's change to the case (note, pending, open, resolve, reopen, priority), with the
    files attached to its note, if any."""
    action = CaseAction(kind=kind, actor=actor, **values)
    return await act(case, action, db=db, temporal=temporal, body=body, files=files, settings=settings)


async def assign(
    case: Case,
    *,
    agent: Agent,
    actor: str,
    assignee_id: int | None,
    db: AsyncSession,
    temporal: TemporalGateway,
) -> CaseView:
    """Assigns the case to the acting agent (no assignee given) or to a teammate on the case's team."""
    assignee_id = assignee_id or agent.id
    assignee = await db.get(Agent, assignee_id)
    is_member = (
        await db.execute(
            select(TeamMember.id).where(
                TeamMember.team_id == case.team_id, TeamMember.agent_id == assignee_id
            )
        )
    ).first()
    if assignee is None or not assignee.is_active or is_member is None:
        raise Invalid("assign to an active agent of the case's team", code="bad_assignee")
    return await agent_act(
        case,
        "assign",
        agent=agent,
        actor=actor,
        db=db,
        temporal=temporal,
        assignee_id=assignee.id,
    )


# --- the queue and SLA ------------------------------------------------------------------------------


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


# --- agents ---------------------------------------------------------------------------------------


async def agent_teams(*, db: AsyncSession, team_ids: Iterable[int]) -> list[Team]:
    return list(
        (await db.execute(select(Team).where(Team.id.in_(list(team_ids))).order_by(Team.name))).scalars()
    )
