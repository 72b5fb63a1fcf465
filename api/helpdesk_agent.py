"""The help desk, agent side: the team queue with SLA state, case detail, and the
changes an agent makes (assign, notes, pending, open, resolve, reopen, priority),
plus routing rules and topic priorities for help-desk administrators.

Agents are provider-side users with an agent record; they log in at /auth/login.
They see only cases of their own teams (any other case is a 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import AgentDep, SessionDep, TemporalDep
from api.errors import Forbidden, NotFound, Unprocessable
from api.helpdesk_service import (
    CaseSummary,
    NoteOut,
    act,
    attachment_response,
    sla_of_cases,
    summarize,
)
from domain.helpdesk import CaseAction, CaseView
from domain.sla import PRIORITIES, SlaState
from records.audit import audit
from records.helpdesk import (
    Agent,
    Case,
    CaseAttachment,
    CaseEventRecord,
    CaseNote,
    Category,
    Requester,
    RoutingRule,
    Team,
    TeamMember,
    Topic,
)

router = APIRouter(prefix="/helpdesk/agent", tags=["help desk agents"])

SlaStatus = Literal["breached", "at_risk", "ok", "paused", "met"]


class TeamOut(BaseModel):
    id: int
    name: str


class AgentOut(BaseModel):
    agent_id: int
    name: str
    is_admin: bool
    teams: list[TeamOut]


class QueueItem(CaseSummary):
    assignee_id: int | None
    assignee: str | None
    requester: str
    sla_status: SlaStatus
    first_response_breached: bool
    resolution_breached: bool
    next_due_at: datetime | None
    sla: dict[str, Any]


class EventOut(BaseModel):
    seq: int
    at: datetime
    kind: str
    actor: str
    priority: str | None
    details: dict[str, Any]


class AgentCaseOut(QueueItem):
    description: str
    contact_phone: str
    requester_email: str
    notes: list[NoteOut]
    events: list[EventOut]
    attachments: list[dict[str, Any]]


class AssignIn(BaseModel):
    agent_id: int | None = Field(default=None, description="A teammate; empty assigns to me")


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)
    visibility: Literal["public", "internal"] = "internal"


class PendingIn(BaseModel):
    body: str = Field(default="", max_length=20000, description="Question to the requester (public)")


class ResolveIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=20000)


class PriorityIn(BaseModel):
    priority: str = Field(pattern="^(" + "|".join(PRIORITIES) + ")$")


class RoutingRuleIn(BaseModel):
    category: str
    topic: str | None = Field(default=None, description="Empty: the rule for the whole category")
    team_id: int


class RoutingRuleOut(BaseModel):
    category: str
    topic: str | None
    team_id: int
    team: str


class TopicPriorityIn(BaseModel):
    default_priority: str = Field(pattern="^(" + "|".join(PRIORITIES) + ")$")


def sla_status(sla: SlaState | None) -> SlaStatus:
    """One word per case for the queue: the worst of its two targets."""
    if sla is None:
        return "ok"
    statuses = {target.status for target in sla.targets}
    for status in ("breached", "at_risk", "ok", "paused"):
        if status in statuses:
            return status  # type: ignore[return-value]
    return "met"


async def queue_item(db: SessionDep, case: Case, sla: SlaState | None) -> QueueItem:
    assignee = await db.get(Agent, case.assignee_id) if case.assignee_id else None
    requester = await db.get(Requester, case.requester_id)
    assert requester is not None
    return QueueItem(
        **(await summarize(db, case)).model_dump(),
        assignee_id=case.assignee_id,
        assignee=assignee.display_name if assignee else None,
        requester=requester.full_name,
        sla_status=sla_status(sla),
        first_response_breached=case.first_response_breached,
        resolution_breached=case.resolution_breached,
        next_due_at=sla.next_breach_instant if sla else None,
        sla=sla.to_dict() if sla else {},
    )


async def load_team_case(number: int, agent: AgentDep, db: SessionDep) -> Case:
    """A case of one of the agent's teams; any other case is a 404."""
    case = (
        await db.execute(select(Case).where(Case.number == number, Case.team_id.in_(agent.team_ids)))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound("no such case in your teams' queues")
    return case


TeamCase = Annotated[Case, Depends(load_team_case)]


def _action(agent: AgentDep, kind: str, **values: Any) -> CaseAction:
    return CaseAction(kind=kind, actor=agent.actor, actor_name=agent.agent.display_name, **values)


@router.get("/me", response_model=AgentOut)
async def agent_me(agent: AgentDep, db: SessionDep) -> AgentOut:
    teams = (await db.execute(select(Team).where(Team.id.in_(agent.team_ids)).order_by(Team.name))).scalars()
    return AgentOut(
        agent_id=agent.agent.id,
        name=agent.agent.display_name,
        is_admin=agent.agent.is_admin,
        teams=[TeamOut(id=t.id, name=t.name) for t in teams],
    )


@router.get("/queue", response_model=list[QueueItem])
async def queue(
    agent: AgentDep,
    db: SessionDep,
    state: Annotated[list[str] | None, Query(description="new, open, pending, resolved, closed")] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    sla: Annotated[list[SlaStatus] | None, Query(description="SLA status of the case")] = None,
    assignee: Annotated[str | None, Query(description="'me', 'none' or an agent id")] = None,
) -> list[QueueItem]:
    """My teams' cases (not closed unless asked), oldest breach first, then nearest due."""
    ordered = await queue_in_order(
        agent=agent, db=db, state=state, priority=priority, sla=sla, assignee=assignee
    )
    return [await queue_item(db, case, sla_state) for case, sla_state in ordered]


async def queue_in_order(
    *,
    agent: AgentDep,
    db: SessionDep,
    state: list[str] | None = None,
    priority: list[str] | None = None,
    sla: list[SlaStatus] | None = None,
    assignee: str | None = None,
) -> list[tuple[Case, SlaState | None]]:
    """The queue's cases in its order (oldest breach first, then nearest due, then by case), each
    with its SLA state; a page of it becomes queue items with `queue_item`."""
    query = select(Case).where(Case.team_id.in_(agent.team_ids))
    query = query.where(Case.state.in_(state)) if state else query.where(Case.state != "closed")
    if priority:
        query = query.where(Case.priority.in_(priority))
    if assignee == "me":
        query = query.where(Case.assignee_id == agent.agent.id)
    elif assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    elif assignee:
        if not assignee.isdigit():
            raise Unprocessable("assignee is 'me', 'none' or an agent id", code="bad_assignee")
        query = query.where(Case.assignee_id == int(assignee))
    cases = list((await db.execute(query)).scalars())
    states = await sla_of_cases(db, [c.id for c in cases])
    if sla:
        cases = [c for c in cases if sla_status(states.get(c.id)) in sla]

    def order(case: Case) -> tuple[Any, ...]:
        state_of = states.get(case.id)
        return (*state_of.breach_sort_key, case.id) if state_of else (3, datetime.max, case.id)

    return [(case, states.get(case.id)) for case in sorted(cases, key=order)]


@router.get("/cases/{number}", response_model=AgentCaseOut)
async def agent_case(case: TeamCase, agent: AgentDep, db: SessionDep) -> AgentCaseOut:
    """Everything about the case: internal and public notes, the event log, SLA state."""
    states = await sla_of_cases(db, [case.id])
    item = await queue_item(db, case, states.get(case.id))
    requester = await db.get(Requester, case.requester_id)
    assert requester is not None
    notes = (
        await db.execute(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.seq))
    ).scalars()
    events = (
        await db.execute(
            select(CaseEventRecord).where(CaseEventRecord.case_id == case.id).order_by(CaseEventRecord.seq)
        )
    ).scalars()
    attachments = (
        await db.execute(select(CaseAttachment).where(CaseAttachment.case_id == case.id))
    ).scalars()
    return AgentCaseOut(
        **item.model_dump(),
        description=case.description,
        contact_phone=case.contact_phone,
        requester_email=requester.email,
        notes=[NoteOut.of(n) for n in notes],
        events=[
            EventOut(seq=e.seq, at=e.at, kind=e.kind, actor=e.actor, priority=e.priority, details=e.details)
            for e in events
        ],
        attachments=[
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in attachments
        ],
    )


@router.get("/cases/{number}/attachments/{attachment_id}")
async def agent_attachment(case: TeamCase, attachment_id: int, agent: AgentDep, db: SessionDep) -> Response:
    return await attachment_response(db, case, attachment_id)


@router.post("/cases/{number}/assign", response_model=CaseView)
async def assign(
    case: TeamCase, body: AssignIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Assigns the case to me or to a teammate on the case's team."""
    assignee_id = body.agent_id or agent.agent.id
    assignee = await db.get(Agent, assignee_id)
    is_member = (
        await db.execute(
            select(TeamMember.id).where(
                TeamMember.team_id == case.team_id, TeamMember.agent_id == assignee_id
            )
        )
    ).first()
    if assignee is None or not assignee.is_active or is_member is None:
        raise Unprocessable("assign to an active agent of the case's team", code="bad_assignee")
    action = _action(agent, "assign", assignee_id=assignee.id, assignee_name=assignee.display_name)
    return await act(db, temporal, case, action)


@router.post("/cases/{number}/notes", response_model=CaseView)
async def add_note(
    case: TeamCase, body: NoteIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """An internal note (never leaves the help desk) or a public one (emailed to the requester)."""
    return await act(db, temporal, case, _action(agent, "note", body=body.body, visibility=body.visibility))


@router.post("/cases/{number}/pending", response_model=CaseView)
async def set_pending(
    case: TeamCase, body: PendingIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Waiting on the requester: the SLA clock stops until they reply (or an agent sets it open)."""
    return await act(db, temporal, case, _action(agent, "pending", body=body.body))


@router.post("/cases/{number}/open", response_model=CaseView)
async def set_open(case: TeamCase, agent: AgentDep, db: SessionDep, temporal: TemporalDep) -> CaseView:
    return await act(db, temporal, case, _action(agent, "open"))


@router.post("/cases/{number}/resolve", response_model=CaseView)
async def resolve(
    case: TeamCase, body: ResolveIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Resolves with resolution notes; the requester is emailed them with every public note."""
    return await act(db, temporal, case, _action(agent, "resolve", body=body.resolution))


@router.post("/cases/{number}/reopen", response_model=CaseView)
async def reopen(case: TeamCase, agent: AgentDep, db: SessionDep, temporal: TemporalDep) -> CaseView:
    return await act(db, temporal, case, _action(agent, "reopen"))


@router.post("/cases/{number}/priority", response_model=CaseView)
async def change_priority(
    case: TeamCase, body: PriorityIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    return await act(db, temporal, case, _action(agent, "priority", priority=body.priority))


# --- administration: routing rules and topic priorities are data --------------------------------


def _require_admin(agent: AgentDep) -> None:
    if not agent.agent.is_admin:
        raise Forbidden("only help-desk administrators change routing")


@router.get("/routing-rules", response_model=list[RoutingRuleOut])
async def routing_rules(agent: AgentDep, db: SessionDep) -> list[RoutingRuleOut]:
    rows = await db.execute(
        select(RoutingRule, Category, Topic, Team)
        .join(Category, Category.id == RoutingRule.category_id)
        .outerjoin(Topic, Topic.id == RoutingRule.topic_id)
        .join(Team, Team.id == RoutingRule.team_id)
        .order_by(Category.position, Topic.position)
    )
    return [
        RoutingRuleOut(category=c.code, topic=t.code if t else None, team_id=team.id, team=team.name)
        for _rule, c, t, team in rows.all()
    ]


@router.put("/routing-rules", response_model=RoutingRuleOut)
async def set_routing_rule(body: RoutingRuleIn, agent: AgentDep, db: SessionDep) -> RoutingRuleOut:
    """Routes a category (or one of its topics) to a team; applies to cases opened from now on."""
    _require_admin(agent)
    category = (await db.execute(select(Category).where(Category.code == body.category))).scalar_one_or_none()
    if category is None:
        raise Unprocessable("no such category", code="bad_category")
    topic = None
    if body.topic is not None:
        topic = next((t for t in category.topics if t.code == body.topic), None)
        if topic is None:
            raise Unprocessable(f"no such topic in {category.name}", code="bad_topic")
    team = await db.get(Team, body.team_id)
    if team is None:
        raise Unprocessable("no such team", code="bad_team")
    topic_id = topic.id if topic else None
    rule = (
        await db.execute(
            select(RoutingRule).where(
                RoutingRule.category_id == category.id,
                RoutingRule.topic_id == topic_id if topic_id else RoutingRule.topic_id.is_(None),
            )
        )
    ).scalar_one_or_none()
    before = rule.team_id if rule else None
    if rule is None:
        rule = RoutingRule(category_id=category.id, topic_id=topic_id, team_id=team.id)
        db.add(rule)
    rule.team_id = team.id
    await db.flush()
    audit(
        db,
        actor=agent.actor,
        entity="routing_rule",
        entity_id=rule.id,
        action="set",
        changes={"team_id": [before, team.id]},
    )
    return RoutingRuleOut(category=category.code, topic=body.topic, team_id=team.id, team=team.name)


@router.put("/topics/{topic_id}", response_model=dict[str, Any])
async def set_topic_priority(
    topic_id: int, body: TopicPriorityIn, agent: AgentDep, db: SessionDep
) -> dict[str, Any]:
    """Sets the default priority new cases of this topic get."""
    _require_admin(agent)
    topic = await db.get(Topic, topic_id)
    if topic is None:
        raise NotFound("no such topic")
    before, topic.default_priority = topic.default_priority, body.default_priority
    audit(
        db,
        actor=agent.actor,
        entity="topic",
        entity_id=topic.id,
        action="set_priority",
        changes={"default_priority": [before, topic.default_priority]},
    )
    return {"topic_id": topic.id, "code": topic.code, "default_priority": topic.default_priority}
