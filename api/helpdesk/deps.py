"""The help desk's one loader: "a case of the agent's teams, or 404", shared by routes and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.deps import AgentDep, SessionDep
from records.helpdesk import Case
from services import helpdesk_views


async def load_team_case(number: int, agent: AgentDep, db: SessionDep) -> Case:
    """A case of one of the agent's teams; any other case is a 404."""
    return await helpdesk_views.team_case(db=db, number=number, team_ids=agent.team_ids)


TeamCase = Annotated[Case, Depends(load_team_case)]
