"""Help-desk administration over JSON: teams, agents and the names of categories and topics
(administrators only, audited). Routing rules and topic priorities are in `routes`, macros in
`desk_routes`."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AgentDep, RecordId, SessionDep, SettingsDep, TemporalDep
from api.helpdesk.admin_schemas import (
    AgentAdminOut,
    AgentChangeIn,
    AgentIn,
    NamesIn,
    NamesOut,
    TeamAdminOut,
    TeamIn,
)
from records.helpdesk import Team
from services import helpdesk_admin, helpdesk_intake
from services.helpdesk_admin import AgentRow

agent_router = APIRouter(prefix="/helpdesk/agent", tags=["help desk administration"])


def _team(team: Team) -> TeamAdminOut:
    return TeamAdminOut(id=team.id, name=team.name, email=team.email, is_default=team.is_default)


def _agent(row: AgentRow) -> AgentAdminOut:
    return AgentAdminOut(
        agent_id=row.agent.id,
        login_name=row.login_name,
        email=row.email,
        name=row.agent.display_name,
        is_admin=row.agent.is_admin,
        is_active=row.agent.is_active,
        team_ids=row.team_ids,
    )


@agent_router.post("/teams", status_code=201, response_model=TeamAdminOut)
async def create_team(body: TeamIn, agent: AgentDep, db: SessionDep) -> TeamAdminOut:
    team = await helpdesk_admin.save_team(
        db=db, agent=agent.agent, actor=agent.actor, team_id=None, **body.model_dump(mode="json")
    )
    return _team(team)


@agent_router.put("/teams/{team_id}", response_model=TeamAdminOut)
async def change_team(team_id: RecordId, body: TeamIn, agent: AgentDep, db: SessionDep) -> TeamAdminOut:
    team = await helpdesk_admin.save_team(
        db=db, agent=agent.agent, actor=agent.actor, team_id=team_id, **body.model_dump(mode="json")
    )
    return _team(team)


@agent_router.get("/agents", response_model=list[AgentAdminOut])
async def agents(agent: AgentDep, db: SessionDep) -> list[AgentAdminOut]:
    helpdesk_admin.require_admin(agent.agent)
    return [_agent(row) for row in await helpdesk_admin.agents(db=db)]


@agent_router.post("/agents", status_code=201, response_model=AgentAdminOut)
async def add_agent(
    body: AgentIn, agent: AgentDep, db: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> AgentAdminOut:
    """Makes a login a help-desk agent on the given teams; a new login is emailed its set-up link."""
    row = await helpdesk_admin.add_agent(
        db=db,
        settings=settings,
        temporal=temporal,
        agent=agent.agent,
        actor=agent.actor,
        **body.model_dump(mode="json"),
    )
    return _agent(row)


@agent_router.put("/agents/{agent_id}", response_model=AgentAdminOut)
async def change_agent(
    agent_id: RecordId, body: AgentChangeIn, agent: AgentDep, db: SessionDep
) -> AgentAdminOut:
    """Changes an agent's name, teams, administrator flag, or ends their help-desk access."""
    row = await helpdesk_admin.change_agent(
        db=db, agent=agent.agent, actor=agent.actor, agent_id=agent_id, **body.model_dump()
    )
    return _agent(row)


@agent_router.put("/names", response_model=NamesOut)
async def set_names(body: NamesIn, agent: AgentDep, db: SessionDep) -> NamesOut:
    """Names a category (or, with `topic`, one of its topics) in English and Spanish."""
    row = await helpdesk_intake.set_names(
        db=db, agent=agent.agent, actor=agent.actor, **body.model_dump(mode="json")
    )
    return NamesOut(id=row.id, **body.model_dump(mode="json") | {"name": row.name, "name_es": row.name_es})
