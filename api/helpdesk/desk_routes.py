"""The agent workspace's JSON routes: the one reply box (public or internal, then pending or
resolved, a priority, a macro), moving a case to another team, the macros of a case's team
filled for it, presence (who else has the case open), and macro administration (audited).

Every case change goes to the case workflow as one Workflow Update per change
(`services.helpdesk_desk`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import AgentDep, RecordId, SessionDep, SettingsDep, TemporalDep
from api.helpdesk.admin_schemas import FilledMacroOut, MacroIn, MacroOut
from api.helpdesk.deps import TeamCase
from api.helpdesk.schemas import (
    LinkIn,
    MergeIn,
    PresenceIn,
    PresenceOut,
    RelatedCaseOut,
    ReplyBoxIn,
    TeamAgentOut,
    TeamChangeIn,
    TeamOut,
)
from domain.helpdesk import CaseView
from records.helpdesk import Team
from records.helpdesk_desk import Macro
from services import helpdesk_desk
from services.helpdesk_desk import MacroFill, Presence

agent_router = APIRouter(prefix="/helpdesk/agent", tags=["help desk agents"])


def _filled(fill: MacroFill) -> FilledMacroOut:
    return FilledMacroOut(
        id=fill.macro.id,
        name=fill.macro.name,
        body=fill.body,
        visibility="public" if fill.public else "internal",
        then=fill.then,
        priority=fill.priority,
    )


def _presence(others: list[Presence]) -> list[PresenceOut]:
    return [PresenceOut(agent=p.agent_name, replying=p.replying) for p in others]


async def _macro_out(db: SessionDep, macro: Macro) -> MacroOut:
    team = await db.get(Team, macro.team_id)
    return MacroOut(
        id=macro.id,
        team=team.name if team else "",
        team_id=macro.team_id,
        name=macro.name,
        body_en=macro.body_en,
        body_es=macro.body_es,
        set_state=macro.set_state,  # type: ignore[arg-type]
        set_priority=macro.set_priority,  # type: ignore[arg-type]
        public=macro.public,
    )


@agent_router.post("/cases/{number}/reply", response_model=CaseView)
async def reply_box(
    case: TeamCase,
    body: ReplyBoxIn,
    agent: AgentDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> CaseView:
    """The reply box: a public reply (emailed) or an internal note, then optionally waiting on the
    requester or resolved, and a new priority. A macro gives its text (when `body` is empty), and
    its state, priority and visibility where the request names none."""
    text, public, then, priority = body.body, body.visibility == "public", body.then, body.priority
    if body.macro_id is not None:
        fill = await helpdesk_desk.fill_macro(db=db, case=case, agent=agent.agent, macro_id=body.macro_id)
        text = text or fill.body
        public = public if "visibility" in body.model_fields_set else fill.public
        then, priority = then or fill.then, priority or fill.priority
    await helpdesk_desk.mark_present(db=db, settings=settings, case=case, agent=agent.agent, replying=False)
    return await helpdesk_desk.agent_reply(
        case,
        actor=agent.actor,
        db=db,
        temporal=temporal,
        body=text,
        public=public,
        then=then,
        priority=priority,
    )


@agent_router.post("/cases/{number}/team", response_model=CaseView)
async def change_team(
    case: TeamCase, body: TeamChangeIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Moves the case to another team's queue, unassigned; its escalations go to that team."""
    return await helpdesk_desk.change_team(
        case, actor=agent.actor, team_id=body.team_id, db=db, temporal=temporal
    )


@agent_router.post("/cases/{number}/merge", response_model=CaseView)
async def merge(
    case: TeamCase, body: MergeIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Merges this duplicate into another case: its notes and attachments move there, it closes
    linked to that case, and its requester is emailed once. Answers this case's state (closed)."""
    return await helpdesk_desk.merge(
        case, actor=agent.actor, into_number=body.into, team_ids=agent.team_ids, db=db, temporal=temporal
    )


@agent_router.post("/cases/{number}/links", response_model=CaseView)
async def link(
    case: TeamCase, body: LinkIn, agent: AgentDep, db: SessionDep, temporal: TemporalDep
) -> CaseView:
    """Relates another case of my teams to this one; each then lists the other."""
    return await helpdesk_desk.link(
        case, actor=agent.actor, related_number=body.number, team_ids=agent.team_ids, db=db, temporal=temporal
    )


@agent_router.get("/cases/{number}/links", response_model=list[RelatedCaseOut])
async def related(case: TeamCase, agent: AgentDep, db: SessionDep) -> list[RelatedCaseOut]:
    return [
        RelatedCaseOut(number=c.number or 0, subject=c.subject, state=c.state)
        for c in await helpdesk_desk.related_cases(db=db, case=case)
    ]


@agent_router.get("/cases/{number}/macros", response_model=list[FilledMacroOut])
async def case_macros(case: TeamCase, agent: AgentDep, db: SessionDep) -> list[FilledMacroOut]:
    """The macros of the case's team, filled for this case in the requester's language."""
    macros = await helpdesk_desk.team_macros(db=db, team_id=case.team_id)
    return [
        _filled(await helpdesk_desk.fill_macro(db=db, case=case, agent=agent.agent, macro_id=m.id))
        for m in macros
    ]


@agent_router.post("/cases/{number}/presence", response_model=list[PresenceOut])
async def presence(
    case: TeamCase, body: PresenceIn, agent: AgentDep, db: SessionDep, settings: SettingsDep
) -> list[PresenceOut]:
    """I have the case open (or am replying) for a short while; answers who else has it open."""
    others = await helpdesk_desk.mark_present(
        db=db, settings=settings, case=case, agent=agent.agent, replying=body.replying
    )
    return _presence(others)


@agent_router.get("/teams", response_model=list[TeamOut])
async def all_teams(agent: AgentDep, db: SessionDep) -> list[TeamOut]:
    """Every team: where a case can be moved to."""
    return [TeamOut(id=t.id, name=t.name) for t in await helpdesk_desk.teams(db=db)]


@agent_router.get("/teams/{team_id}/agents", response_model=list[TeamAgentOut])
async def team_agents(team_id: RecordId, agent: AgentDep, db: SessionDep) -> list[TeamAgentOut]:
    """The active agents of a team: who its cases can be assigned to."""
    return [
        TeamAgentOut(agent_id=a.id, name=a.display_name)
        for a in await helpdesk_desk.teammates(db=db, team_id=team_id)
    ]


# --- macro administration ---------------------------------------------------------------------------


@agent_router.get("/macros", response_model=list[MacroOut])
async def macros(agent: AgentDep, db: SessionDep) -> list[MacroOut]:
    return [await _macro_out(db, m) for m in await helpdesk_desk.all_macros(db=db)]


@agent_router.post("/macros", status_code=201, response_model=MacroOut)
async def create_macro(body: MacroIn, agent: AgentDep, db: SessionDep) -> MacroOut:
    """A canned response of a team (administrators; audited)."""
    macro = await helpdesk_desk.save_macro(
        db=db, agent=agent.agent, actor=agent.actor, macro_id=None, **body.model_dump()
    )
    return await _macro_out(db, macro)


@agent_router.put("/macros/{macro_id}", response_model=MacroOut)
async def update_macro(macro_id: RecordId, body: MacroIn, agent: AgentDep, db: SessionDep) -> MacroOut:
    macro = await helpdesk_desk.save_macro(
        db=db, agent=agent.agent, actor=agent.actor, macro_id=macro_id, **body.model_dump()
    )
    return await _macro_out(db, macro)


@agent_router.delete("/macros/{macro_id}", status_code=204)
async def delete_macro(macro_id: RecordId, agent: AgentDep, db: SessionDep) -> Response:
    await helpdesk_desk.delete_macro(db=db, agent=agent.agent, actor=agent.actor, macro_id=macro_id)
    return Response(status_code=204)
