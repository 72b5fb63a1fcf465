"""Mail routes' JSON routes (help-desk administrators): which category and topic a case opened by
email gets, by the address it was sent to and its subject."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import AgentDep, SessionDep
from api.helpdesk.schemas import MailRouteIn, MailRouteOut
from services import helpdesk_mail_routes

router = APIRouter(prefix="/helpdesk/agent/mail-routes", tags=["help desk agents"])


@router.get("", response_model=list[MailRouteOut])
async def mail_routes(agent: AgentDep, db: SessionDep) -> list[MailRouteOut]:
    """In the order they are tried; the first matching route gives the new case its topic."""
    return [MailRouteOut.of(*found) for found in await helpdesk_mail_routes.mail_routes(db=db)]


@router.post("", status_code=201, response_model=MailRouteOut)
async def add_mail_route(body: MailRouteIn, agent: AgentDep, db: SessionDep) -> MailRouteOut:
    """A new route: email to `address` (empty: any) whose subject contains `subject_contains`
    (empty: any) opens a case of this category and topic."""
    found = await helpdesk_mail_routes.add_mail_route(
        db=db, agent=agent.agent, actor=agent.actor, **body.model_dump()
    )
    return MailRouteOut.of(*found)


@router.delete("/{route_id}", status_code=204)
async def remove_mail_route(route_id: int, agent: AgentDep, db: SessionDep) -> Response:
    await helpdesk_mail_routes.remove_mail_route(
        db=db, agent=agent.agent, actor=agent.actor, route_id=route_id
    )
    return Response(status_code=204)
