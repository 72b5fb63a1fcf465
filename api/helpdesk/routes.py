"""The help desk's JSON routes: the requester side (accounts, intake, my cases, replies,
reopen) and the agent side (the team queue with SLA state, case detail, the changes an
agent makes, and routing administration).

Agents are provider-side users with an agent record; they log in at /auth/login and see
only cases of their own teams (any other case is a 404). Case changes go to the case
workflow as Workflow Updates (`services.helpdesk.act`); reads come from the records.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.access.deps import client_host, device_cookie, set_device_cookie, set_session_cookie
from api.deps import (
    SESSION_COOKIE,
    AgentDep,
    LoginThrottleDep,
    Public,
    ReadsOnly,
    RequesterDep,
    RequesterLoginDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    TemporalDep,
)
from api.downloads import download
from api.helpdesk.deps import TeamCase
from api.helpdesk.schemas import (
    AgentCaseOut,
    AgentOut,
    AssignIn,
    AttachmentIn,
    CaseSummary,
    CategoryOut,
    IntakeIn,
    MyCaseOut,
    NoteIn,
    PasswordIn,
    PendingIn,
    PriorityIn,
    QueueItem,
    RegisteredOut,
    RegisterIn,
    ReplyIn,
    ReplyOut,
    RequesterLoginIn,
    RequesterLoginOut,
    RequesterOut,
    RequesterSetPasswordIn,
    ResolveIn,
    RoutingRuleIn,
    RoutingRuleOut,
    TeamOut,
    TopicPriorityIn,
)
from domain.helpdesk import CaseView
from domain.settings import Settings
from records.helpdesk import Case
from services import helpdesk, helpdesk_accounts, helpdesk_files, helpdesk_intake, helpdesk_views
from services.helpdesk import AttachedFile
from services.helpdesk_files import FileIn, Upload
from services.helpdesk_views import QueueSort, SlaStatus

router = APIRouter(prefix="/helpdesk", tags=["help desk"])
agent_router = APIRouter(prefix="/helpdesk/agent", tags=["help desk agents"])


def _files(given: list[AttachmentIn], settings: Settings) -> list[FileIn]:
    """JSON attachments decoded and checked (a refusal for the first that may not be attached)."""
    return [helpdesk_files.decoded(Upload(**a.model_dump()), settings) for a in given]


def _download(attachment: AttachedFile) -> Response:
    return download(attachment.data, attachment.content_type, attachment.filename)


# --- requester ------------------------------------------------------------------------------------


@router.post("/register", dependencies=[Public], status_code=202, response_model=RegisteredOut)
async def register(
    body: RegisterIn, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> RegisteredOut:
    """Creates a help-desk account and emails a single-use link to choose its password. The answer
    is the same whether or not the email already has an account: its owner is told by email."""
    await helpdesk_accounts.register(
        db=db,
        settings=settings,
        temporal=temporal,
        **body.model_dump(exclude={"email"}),
        email=str(body.email),
    )
    return RegisteredOut(
        email=str(body.email).strip().lower(), message="check your email for the link to choose your password"
    )


@router.post("/set-password", dependencies=[Public], response_model=RequesterOut)
async def set_password(
    body: RequesterSetPasswordIn, sessions: SessionsDep, settings: SettingsDep
) -> RequesterOut:
    """Sets the password from the link in the account email (single use); confirms the address and
    ends every session of the account."""
    requester = await helpdesk_accounts.set_password_from_link(
        sessions=sessions, settings=settings, token=body.token, password=body.password
    )
    return RequesterOut.of(requester)


@router.post("/login", dependencies=[Public], response_model=RequesterLoginOut)
async def requester_login(
    body: RequesterLoginIn,
    request: Request,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> RequesterLoginOut:
    opened = await helpdesk_accounts.log_in(
        sessions=sessions,
        settings=settings,
        throttle=throttle,
        client=client_host(request),
        device_cookie=device_cookie(request),
        email=body.email,
        password=body.password,
    )
    set_session_cookie(response, opened.token, settings)
    set_device_cookie(response, opened.device_cookie, settings)
    return RequesterLoginOut(
        **RequesterOut.of(opened.requester).model_dump(),
        token=opened.token,
        expires_at=opened.expires_at.isoformat(),
    )


# ReadsOnly: the request's own transaction only reads, so the password's short write
# transaction (after hashing) does not wait behind it.
@router.post("/password", dependencies=[ReadsOnly], response_model=RequesterOut)
async def change_password(
    body: PasswordIn, current: RequesterLoginDep, sessions: SessionsDep, settings: SettingsDep
) -> RequesterOut:
    """Replaces the temporary (or current) password; required before any other help-desk call.
    Every other session of the account ends."""
    requester = await helpdesk_accounts.change_password(
        sessions=sessions,
        settings=settings,
        requester=current.requester,
        login=current.login,
        actor=current.actor,
        **body.model_dump(),
    )
    return RequesterOut.of(requester)


@router.get("/me", response_model=RequesterOut)
async def requester_me(current: RequesterLoginDep) -> RequesterOut:
    return RequesterOut.of(current.requester)


@router.post("/logout", status_code=204)
async def requester_logout(current: RequesterLoginDep, response: Response, db: SessionDep) -> Response:
    await helpdesk_accounts.log_out(db=db, login=current.login)
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return response


@router.get("/categories", dependencies=[Public], response_model=list[CategoryOut])
async def categories(db: SessionDep) -> list[CategoryOut]:
    """The intake form's choices (data, changeable by help-desk administrators)."""
    return [CategoryOut.of(c) for c in await helpdesk_intake.categories(db=db)]


@router.post("/cases", status_code=201, response_model=CaseSummary)
async def intake(
    body: IntakeIn, current: RequesterDep, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> CaseSummary:
    """Opens a case: routed to a team by category and topic, prioritised by the topic."""
    case = await helpdesk_intake.intake(
        db=db,
        settings=settings,
        temporal=temporal,
        requester=current.requester,
        **body.model_dump(exclude={"attachment"}),
        upload=Upload(**body.attachment.model_dump()) if body.attachment else None,
    )
    return CaseSummary.of(await helpdesk_views.card_of(db, case))


@router.get("/cases", response_model=list[CaseSummary])
async def my_cases(current: RequesterDep, db: SessionDep) -> list[CaseSummary]:
    return [
        CaseSummary.of(card)
        for card in await helpdesk_views.requester_cases(db=db, requester=current.requester)
    ]


@router.get("/cases/{number}", response_model=MyCaseOut)
async def my_case(number: int, current: RequesterDep, db: SessionDep) -> MyCaseOut:
    """My case with its state and public notes (internal notes never appear here)."""
    detail = await helpdesk_views.requester_case_detail(db=db, requester=current.requester, number=number)
    return MyCaseOut.of_detail(detail)


@router.get("/cases/{number}/attachments/{attachment_id}")
async def my_attachment(
    number: int, attachment_id: int, current: RequesterDep, db: SessionDep, settings: SettingsDep
) -> Response:
    case = await helpdesk_views.requester_case(db=db, requester=current.requester, number=number)
    return _download(
        await helpdesk.attachment(db=db, settings=settings, case=case, attachment_id=attachment_id)
    )


@router.post("/cases/{number}/reply", response_model=ReplyOut)
async def reply(
    number: int,
    body: ReplyIn,
    current: RequesterDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
) -> ReplyOut:
    """A public note from the requester; a pending case goes back to open. A reply to a
    closed case opens a new case linked to it."""
    replied = await helpdesk.reply(
        db=db,
        settings=settings,
        temporal=temporal,
        requester=current.requester,
        actor=current.actor,
        number=number,
        body=body.body,
        files=_files(body.attachments, settings),
    )
    if replied.new_case_number is not None:  # the case was closed: the reply opened a new one
        response.status_code = 201
    return ReplyOut(number=replied.number, state=replied.state, new_case_number=replied.new_case_number)


@router.post("/cases/{number}/reopen", response_model=ReplyOut)
async def requester_reopen(
    number: int, current: RequesterDep, db: SessionDep, temporal: TemporalDep
) -> ReplyOut:
    """Reopens my resolved case within the reopen window (409 outside it)."""
    view = await helpdesk.requester_reopen(
        db=db, temporal=temporal, requester=current.requester, actor=current.actor, number=number
    )
    return ReplyOut(number=view.number, state=view.state)


# --- agent ------------------------------------------------------------------------------------------


async def _act(
    case: Case, kind: str, agent: AgentDep, db: SessionDep, temporal: TemporalDep, **values: Any
) -> CaseView:
    return await helpdesk.agent_act(
        case, kind, agent=agent.agent, actor=agent.actor, db=db, temporal=temporal, **values
    )


@agent_router.get("/me", response_model=AgentOut)
async def agent_me(agent: AgentDep, db: SessionDep) -> AgentOut:
    teams = await helpdesk_views.agent_teams(db=db, team_ids=agent.team_ids)
    return AgentOut(
        agent_id=agent.agent.id,
        name=agent.agent.display_name,
        is_admin=agent.agent.is_admin,
        teams=[TeamOut(id=t.id, name=t.name) for t in teams],
    )


@agent_router.get("/queue", response_model=list[QueueItem])
async def queue(
    agent: AgentDep,
    db: SessionDep,
    response: Response,
    state: Annotated[list[str] | None, Query(description="new, open, pending, resolved, closed")] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    sla: Annotated[list[SlaStatus] | None, Query(description="SLA status of the case")] = None,
    assignee: Annotated[str | None, Query(description="'me', 'none' or an agent id")] = None,
    q: Annotated[
        str, Query(max_length=200, description="Case number, subject, requester, public note text")
    ] = "",
    team: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="One of my teams")] = None,
    sort: Annotated[
        QueueSort, Query(description="urgency (default), priority, newest, oldest, updated")
    ] = "urgency",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=500, description="Empty: every case")] = None,
) -> list[QueueItem]:
    """My teams' cases (not closed unless asked), oldest breach first, then nearest due (or as
    `sort` says). With `page_size`, one page; the X-Total-Count header counts every match."""
    ordered = await helpdesk_views.queue_in_order(
        db=db,
        agent=agent.agent,
        team_ids=agent.team_ids,
        state=state,
        priority=priority,
        sla=sla,
        assignee=assignee,
        search=q,
        team_id=team,
        sort=sort,
    )
    response.headers["X-Total-Count"] = str(len(ordered))
    if page_size is not None:
        ordered = ordered[(page - 1) * page_size : page * page_size]
    return [
        QueueItem.of_entry(await helpdesk_views.queue_entry(db, case, sla_state))
        for case, sla_state in ordered
    ]


@agent_router.get("/cases/{number}", response_model=AgentCaseOut)
async def agent_case(case: TeamCase, agent: AgentDep, db: SessionDep) -> AgentCaseOut:
    """Everything about the case: internal and public notes, the event log, SLA state."""
    return AgentCaseOut.of_detail(await helpdesk_views.agent_case_detail(db=db, case=case))


@agent_router.get("/cases/{number}/attachments/{attachment_id}")
async def agent_attachment(
    case: TeamCase, attachment_id: int, agent: AgentDep, db: SessionDep, settings: SettingsDep
) -> Response:
    return _download(
        await helpdesk.attachment(db=db, settings=settings, case=case, attachment_id=attachment_id)
    )


@agent_router.post("/cases/{number}/assign", response_model=CaseView)
async def assign(
    case: TeamCase, body: AssignIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Assigns the case to me or to a teammate on the case's team."""
    return await helpdesk.assign(
        case, agent=agent.agent, actor=agent.actor, assignee_id=body.agent_id, db=db, temporal=temporal
    )


@agent_router.post("/cases/{number}/notes", response_model=CaseView)
async def add_note(
    case: TeamCase,
    body: NoteIn,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> CaseView:
    """An internal note (never leaves the help desk) or a public one (emailed to the requester),
    with its attachments."""
    files = _files(body.attachments, settings)
    return await _act(
        case,
        "note",
        agent,
        db,
        temporal,
        body=body.body,
        visibility=body.visibility,
        files=files,
        settings=settings,
    )


@agent_router.post("/cases/{number}/pending", response_model=CaseView)
async def set_pending(
    case: TeamCase, body: PendingIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Waiting on the requester: the SLA clock stops until they reply (or an agent sets it open)."""
    return await _act(case, "pending", agent, db, temporal, body=body.body)


@agent_router.post("/cases/{number}/open", response_model=CaseView)
async def set_open(case: TeamCase, agent: AgentDep, db: SessionDep, temporal: TemporalDep) -> CaseView:
    return await _act(case, "open", agent, db, temporal)


@agent_router.post("/cases/{number}/resolve", response_model=CaseView)
async def resolve(
    case: TeamCase, body: ResolveIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Resolves with resolution notes; the requester is emailed them with every public note."""
    return await _act(case, "resolve", agent, db, temporal, body=body.resolution)


@agent_router.post("/cases/{number}/reopen", response_model=CaseView)
async def reopen(case: TeamCase, agent: AgentDep, db: SessionDep, temporal: TemporalDep) -> CaseView:
    return await _act(case, "reopen", agent, db, temporal)


@agent_router.post("/cases/{number}/priority", response_model=CaseView)
async def change_priority(
    case: TeamCase, body: PriorityIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    return await _act(case, "priority", agent, db, temporal, priority=body.priority)


# --- administration: routing rules and topic priorities are data ----------------------------------


@agent_router.get("/routing-rules", response_model=list[RoutingRuleOut])
async def routing_rules(agent: AgentDep, db: SessionDep) -> list[RoutingRuleOut]:
    return [
        RoutingRuleOut(category=c.code, topic=t.code if t else None, team_id=team.id, team=team.name)
        for c, t, team in await helpdesk_intake.routing_rules(db=db)
    ]


@agent_router.put("/routing-rules", response_model=RoutingRuleOut)
async def set_routing_rule(body: RoutingRuleIn, agent: AgentDep, db: SessionDep) -> RoutingRuleOut:
    """Routes a category (or one of its topics) to a team; applies to cases opened from now on."""
    category, team = await helpdesk_intake.set_routing_rule(
        db=db, agent=agent.agent, actor=agent.actor, **body.model_dump()
    )
    return RoutingRuleOut(category=category.code, topic=body.topic, team_id=team.id, team=team.name)


@agent_router.put("/topics/{topic_id}", response_model=dict[str, Any])
async def set_topic_priority(
    topic_id: int, body: TopicPriorityIn, agent: AgentDep, db: SessionDep
) -> dict[str, Any]:
    """Sets the default priority new cases of this topic get."""
    topic = await helpdesk_intake.set_topic_priority(
        db=db, agent=agent.agent, actor=agent.actor, topic_id=topic_id, default_priority=body.default_priority
    )
    return {"topic_id": topic.id, "code": topic.code, "default_priority": topic.default_priority}
