"""Record keeping of the case workflow: its event log, notes and the case row.

Idempotent: every event carries the sequence number the workflow gave it, so a
retried activity finds the events it already wrote (unique on case and seq)
and sets the case's columns to the same absolute values again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.helpdesk import CaseChange
from domain.settings import Settings
from records.db import transaction
from records.helpdesk import (
    Agent,
    Case,
    CaseAttachment,
    CaseEventRecord,
    CaseNote,
    CaseText,
    Team,
    actor_name,
)
from records.helpdesk_desk import CaseLink


class HelpdeskActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    @activity.defn
    async def record_case_change(self, change: CaseChange) -> None:
        async with transaction(self.sessions) as db:
            case = await db.get(Case, change.case_id)
            if case is None:
                raise ApplicationError(f"case {change.case_id} does not exist", non_retryable=True)
            seqs = [event.seq for event in change.events]
            written = set(
                (
                    await db.execute(
                        select(CaseEventRecord.seq).where(
                            CaseEventRecord.case_id == case.id, CaseEventRecord.seq.in_(seqs)
                        )
                    )
                ).scalars()
            )
            for event in change.events:
                if event.seq in written:
                    continue
                details = dict(event.details)
                if event.kind == "assigned" and details.get("assignee_id"):
                    # The workflow names the agent by id; the event log shows the name too.
                    assignee = await db.get(Agent, int(details["assignee_id"]))
                    details.setdefault("assignee_name", assignee.display_name if assignee else "")
                await record_merge_and_link(db, case, event.kind, details)
                if event.kind == "team" and details.get("team_id"):
                    case.team_id = int(details["team_id"])
                    team = await db.get(Team, case.team_id)
                    details.setdefault("team_name", team.name if team else "")
                db.add(
                    CaseEventRecord(
                        case_id=case.id,
                        seq=event.seq,
                        at=event.at,
                        kind=event.kind,
                        actor=event.actor,
                        priority=event.priority,
                        details=details,
                    )
                )
                if event.note is not None:
                    text = await db.get(CaseText, event.note.text_id) if event.note.text_id else None
                    db.add(
                        CaseNote(
                            case_id=case.id,
                            seq=event.seq,
                            at=event.at,
                            author=event.note.author,
                            author_name=await actor_name(db, event.note.author),
                            visibility=event.note.visibility,
                            purpose=event.note.purpose,
                            body=text.body if text is not None else "",
                        )
                    )
            case.state = change.state
            case.priority = change.priority
            case.assignee_id = change.assignee_id
            case.first_response_breached = change.first_response_breached
            case.resolution_breached = change.resolution_breached
            case.next_update_breached = change.next_update_breached
            case.resolved_at = change.resolved_at
            case.closed_at = change.closed_at
            if change.events:
                case.updated_at = max(event.at for event in change.events)


async def record_merge_and_link(db: AsyncSession, case: Case, kind: str, details: dict[str, Any]) -> None:
    """A merge moves the duplicate's attachments here and links the closed duplicate to its
    case; a link relates two cases both ways. Safe to repeat (a retried activity)."""
    if kind == "merged_in":
        await db.execute(
            update(CaseAttachment)
            .where(CaseAttachment.case_id == int(details["from_case_id"]))
            .values(case_id=case.id)
        )
    elif kind == "merged":
        case.linked_case_id = int(details["into_case_id"])
    elif kind == "linked":
        other = int(details["related_case_id"])
        for one, two in ((case.id, other), (other, case.id)):
            known = await db.execute(
                select(CaseLink.id).where(CaseLink.case_id == one, CaseLink.related_case_id == two)
            )
            if known.first() is None:
                db.add(CaseLink(case_id=one, related_case_id=two))
