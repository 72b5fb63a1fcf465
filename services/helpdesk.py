"""The help desk's cases: driving a case's workflow (a reply to a closed case opens a new
one), the agents' queue with SLA state computed from the recorded event log, and case
details with notes and attachments.

HTTP-free: callers pass who acts (a requester or an agent row and its actor string);
refusals are domain refusals. Intake and routing are in `services.helpdesk_intake`,
requester accounts in `services.helpdesk_accounts`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.helpdesk import CaseAction, CaseView, case_workflow_id
from domain.refusals import Conflict, Invalid, NotFound
from domain.settings import Settings
from records.helpdesk import (
    Agent,
    Case,
    CaseAttachment,
    CaseText,
    Category,
    Requester,
    TeamMember,
    Topic,
)
from services import helpdesk_files
from services.helpdesk_files import FileIn
from services.helpdesk_intake import open_case
from services.helpdesk_views import requester_case
from services.temporal import TemporalGateway
from services.workflow_starts import start_if_promised
from workflows.case import CaseWorkflow


@dataclass(frozen=True)
class Replied:
    number: int
    state: str
    # Set when the case was closed and the reply opened a new one linked to it.
    new_case_number: int | None = None


# --- reading cases --------------------------------------------------------------------------------


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
    workflow_id = case_workflow_id(case.number or 0)
    view: CaseView | None = None
    for action in actions:
        try:
            view = await temporal.update(
                workflow_id, CaseWorkflow.act, action, result_type=CaseView, gone=closed
            )
        except Conflict as refusal:
            # No workflow yet: the case's start may still be the promise of a just-committed intake.
            if refusal is not closed or not await start_if_promised(db, temporal, workflow_id):
                raise
            view = await temporal.update(
                workflow_id, CaseWorkflow.act, action, result_type=CaseView, gone=closed
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


# --- agents ---------------------------------------------------------------------------------------
