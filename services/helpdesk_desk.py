"""The agent workspace: the one reply box (public or internal, then optionally pending or
resolved, with a priority), moving a case to another team, macros (canned responses per
team in English and Spanish with placeholders) and presence (the collision notice).

Every change still goes to the case workflow through `services.helpdesk.act`, one update per
change. HTTP-free; refusals are domain refusals.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.helpdesk import CaseAction, CaseView, NoteIn, case_workflow_id
from domain.refusals import Conflict, Forbidden, Invalid, NotFound
from domain.settings import Settings
from domain.sla import PRIORITIES
from records.audit import audit
from records.db import utcnow
from records.helpdesk import (
    Agent,
    Case,
    CaseEventRecord,
    CaseNote,
    CaseText,
    Requester,
    Team,
    TeamMember,
    actor_name,
)
from records.helpdesk_desk import MACRO_PLACEHOLDERS, CaseLink, CasePresence, Macro
from services.helpdesk import act, act_in_turn
from services.helpdesk_files import FileIn
from services.helpdesk_views import team_case
from services.temporal import TemporalGateway
from workflows.case import CaseWorkflow

THEN_STATES: tuple[str, ...] = ("", "pending", "resolved")


# --- the reply box ----------------------------------------------------------------------------------


async def agent_reply(
    case: Case,
    *,
    actor: str,
    db: AsyncSession,
    temporal: TemporalGateway,
    body: str,
    public: bool,
    then: str = "",
    priority: str = "",
    files: Sequence[FileIn] = (),
    settings: Settings | None = None,
) -> CaseView:
    """The reply box: a public reply or internal note (with files), then (optionally) waiting on
    the requester or resolved, and a new priority. One workflow update per change, checked before
    any is sent: a public text that waits or resolves is that one update (the question, the
    resolution)."""
    body = body.strip()
    if then not in THEN_STATES:
        raise Invalid("then is '', 'pending' or 'resolved'", code="bad_state")
    if priority and priority not in PRIORITIES:
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}", code="bad_priority")
    if not body and then != "pending":
        raise Invalid("write the reply first", code="empty_note")
    if then == "resolved" and not public:
        raise Invalid("the resolution is public: the requester is emailed it", code="internal_resolution")
    changes: list[tuple[CaseAction, str]] = []
    if priority and priority != case.priority:
        changes.append((CaseAction(kind="priority", actor=actor, priority=priority), ""))
    if then == "resolved":
        changes.append((CaseAction(kind="resolve", actor=actor), body))
    elif then == "pending":
        if body and not public:
            changes.append((CaseAction(kind="note", actor=actor, visibility="internal"), body))
        changes.append((CaseAction(kind="pending", actor=actor), body if public else ""))
    else:
        visibility = "public" if public else "internal"
        changes.append((CaseAction(kind="note", actor=actor, visibility=visibility), body))
    return await act_in_turn(case, changes, db=db, temporal=temporal, files=files, settings=settings)


async def change_team(
    case: Case, *, actor: str, team_id: int, db: AsyncSession, temporal: TemporalGateway
) -> CaseView:
    """Moves the case to another team's queue (unassigned there); escalations go to that team."""
    team = await db.get(Team, team_id)
    if team is None:
        raise Invalid("no such team", code="bad_team")
    if team.id == case.team_id:
        raise Conflict("the case is already with that team", code="invalid_transition")
    action = CaseAction(kind="team", actor=actor, team_id=team.id, team_email=team.email)
    return await act(case, action, db=db, temporal=temporal)


async def teams(*, db: AsyncSession) -> list[Team]:
    return list((await db.execute(select(Team).order_by(Team.name))).scalars())


async def teammates(*, db: AsyncSession, team_id: int) -> list[Agent]:
    """The active agents of a team, who a case of it may be assigned to."""
    rows = await db.execute(
        select(Agent)
        .join(TeamMember, TeamMember.agent_id == Agent.id)
        .where(TeamMember.team_id == team_id, Agent.is_active.is_(True))
        .order_by(Agent.display_name)
    )
    return list(rows.scalars())


async def actor_names(db: AsyncSession, events: list[CaseEventRecord]) -> dict[str, str]:
    """The display name of every actor of a timeline ("system" stays as it is)."""
    return {actor: await actor_name(db, actor) for actor in {e.actor for e in events}}


# --- merging duplicates and linking related cases ------------------------------------------------


async def merge(
    duplicate: Case,
    *,
    actor: str,
    into_number: int,
    team_ids: Iterable[int],
    db: AsyncSession,
    temporal: TemporalGateway,
) -> CaseView:
    """Merges a duplicate into another case of the agent's teams: the duplicate's notes (copied,
    in order) and attachments move to it; the duplicate closes, linked to it, and its requester
    is emailed once. Notes of another requester's case come in as internal notes (they would
    otherwise be emailed to a stranger). Answers the duplicate's state (closed)."""
    target = await team_case(db=db, number=into_number, team_ids=team_ids)
    if target.id == duplicate.id:
        raise Invalid("a case cannot be merged into itself", code="bad_merge")
    for case in (duplicate, target):
        if case.state == "closed":
            raise Conflict(f"case {case.number} is closed", code="invalid_transition")
    done = (
        await db.execute(
            select(CaseEventRecord.details).where(
                CaseEventRecord.case_id == target.id, CaseEventRecord.kind == "merged_in"
            )
        )
    ).scalars()
    moved_already = any(int(d.get("from_case_id", 0)) == duplicate.id for d in done)
    notes: list[NoteIn] = []
    if not moved_already:  # a merge that stopped halfway (the duplicate still open) goes on from here
        same_requester = duplicate.requester_id == target.requester_id
        first = CaseText(
            case_id=target.id, body=f"#{duplicate.number}: {duplicate.subject}\n\n{duplicate.description}"
        )
        db.add(first)
        await db.flush()
        author = f"requester:{duplicate.requester_id}"
        notes.append(NoteIn(author, "public" if same_requester else "internal", "merged", text_id=first.id))
        rows = await db.execute(
            select(CaseNote).where(CaseNote.case_id == duplicate.id).order_by(CaseNote.seq)
        )
        for note in rows.scalars():
            text = CaseText(case_id=target.id, body=note.body)
            db.add(text)
            await db.flush()
            visibility = note.visibility if same_requester else "internal"
            notes.append(NoteIn(note.author, visibility, "merged", text_id=text.id))
    await db.commit()
    closed = Conflict("the case is closed", code="invalid_transition")
    if not moved_already:
        merge_in = CaseAction(
            kind="merge_in",
            actor=actor,
            other_case_id=duplicate.id,
            other_number=duplicate.number,
            notes=notes,
        )
        await temporal.update(
            case_workflow_id(into_number), CaseWorkflow.act, merge_in, result_type=CaseView, gone=closed
        )
    merged = CaseAction(kind="merged", actor=actor, other_case_id=target.id, other_number=target.number)
    view: CaseView = await temporal.update(
        case_workflow_id(duplicate.number or 0), CaseWorkflow.act, merged, result_type=CaseView, gone=closed
    )
    return view


async def link(
    case: Case,
    *,
    actor: str,
    related_number: int,
    team_ids: Iterable[int],
    db: AsyncSession,
    temporal: TemporalGateway,
) -> CaseView:
    """Relates another case of the agent's teams to this one (both list each other)."""
    related = await team_case(db=db, number=related_number, team_ids=team_ids)
    if related.id == case.id:
        raise Invalid("a case is not related to itself", code="bad_link")
    known = await db.execute(
        select(CaseLink.id).where(CaseLink.case_id == case.id, CaseLink.related_case_id == related.id)
    )
    if known.first() is not None:
        raise Conflict(f"case {related_number} is already related", code="already_linked")
    action = CaseAction(kind="link", actor=actor, other_case_id=related.id, other_number=related.number)
    return await act(case, action, db=db, temporal=temporal)


async def related_cases(*, db: AsyncSession, case: Case) -> list[Case]:
    rows = await db.execute(
        select(Case)
        .join(CaseLink, CaseLink.related_case_id == Case.id)
        .where(CaseLink.case_id == case.id)
        .order_by(Case.number)
    )
    return list(rows.scalars())


# --- macros -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacroFill:
    """A macro made ready for one case: the text in the requester's language and what it sets."""

    macro: Macro
    body: str
    public: bool
    then: str
    priority: str


def check_placeholders(text: str) -> None:
    """Refuses a macro text with an unknown placeholder or a stray brace."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise Invalid("a macro's braces must pair: {requester_name}", code="bad_macro") from None
    unknown = sorted({n for n in names if n not in MACRO_PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in MACRO_PLACEHOLDERS)
        raise Invalid(f"unknown placeholder {unknown[0]!r}; use {allowed}", code="bad_macro")


async def team_macros(*, db: AsyncSession, team_id: int) -> list[Macro]:
    return list(
        (await db.execute(select(Macro).where(Macro.team_id == team_id).order_by(Macro.name))).scalars()
    )


async def all_macros(*, db: AsyncSession) -> list[Macro]:
    return list((await db.execute(select(Macro).order_by(Macro.team_id, Macro.name))).scalars())


async def fill_macro(*, db: AsyncSession, case: Case, agent: Agent, macro_id: int) -> MacroFill:
    """A macro of the case's team with its placeholders filled, in the requester's language."""
    macro = await db.get(Macro, macro_id)
    if macro is None or macro.team_id != case.team_id:
        raise NotFound("no such macro for this case's team")
    requester = await db.get(Requester, case.requester_id)
    assert requester is not None
    template = macro.body_es if requester.preferred_language == "es" else macro.body_en
    values = {
        "requester_name": requester.full_name,
        "case_number": str(case.number),
        "agent_name": agent.display_name,
    }
    return MacroFill(
        macro=macro,
        body=template.format_map(values),
        public=macro.public,
        then=macro.set_state,
        priority=macro.set_priority,
    )


def _require_admin(agent: Agent) -> None:
    if not agent.is_admin:
        raise Forbidden("only a help-desk administrator manages macros", code="not_admin")


async def save_macro(
    *,
    db: AsyncSession,
    agent: Agent,
    actor: str,
    macro_id: int | None,
    team_id: int,
    name: str,
    body_en: str,
    body_es: str,
    set_state: str = "",
    set_priority: str = "",
    public: bool = True,
) -> Macro:
    """Creates (no `macro_id`) or changes a macro; audited."""
    _require_admin(agent)
    for text in (body_en, body_es):
        check_placeholders(text)
    if set_state not in THEN_STATES:
        raise Invalid("a macro sets the state to '', 'pending' or 'resolved'", code="bad_state")
    if set_priority and set_priority not in PRIORITIES:
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}", code="bad_priority")
    if set_state == "resolved" and not public:
        raise Invalid("a macro that resolves is a public reply", code="internal_resolution")
    if await db.get(Team, team_id) is None:
        raise Invalid("no such team", code="bad_team")
    clash = (
        await db.execute(select(Macro.id).where(Macro.team_id == team_id, Macro.name == name))
    ).scalar_one_or_none()
    if clash is not None and clash != macro_id:
        raise Conflict("the team has a macro of that name", code="macro_exists")
    values = dict(
        team_id=team_id,
        name=name,
        body_en=body_en,
        body_es=body_es,
        set_state=set_state,
        set_priority=set_priority,
        public=public,
    )
    if macro_id is None:
        macro = Macro(**values)
        db.add(macro)
        await db.flush()
        created = {key: [None, value] for key, value in values.items()}
        audit(db, actor=actor, entity="helpdesk_macro", entity_id=macro.id, action="create", changes=created)
        return macro
    found = await db.get(Macro, macro_id)
    if found is None:
        raise NotFound("no such macro")
    changed = {k: [getattr(found, k), v] for k, v in values.items() if getattr(found, k) != v}
    for key, (_old, value) in changed.items():
        setattr(found, key, value)
    audit(db, actor=actor, entity="helpdesk_macro", entity_id=found.id, action="update", changes=changed)
    return found


async def delete_macro(*, db: AsyncSession, agent: Agent, actor: str, macro_id: int) -> None:
    _require_admin(agent)
    found = await db.get(Macro, macro_id)
    if found is None:
        raise NotFound("no such macro")
    audit(
        db,
        actor=actor,
        entity="helpdesk_macro",
        entity_id=found.id,
        action="delete",
        changes={"name": found.name},
    )
    await db.delete(found)


# --- presence: the collision notice -----------------------------------------------------------------


@dataclass(frozen=True)
class Presence:
    agent_name: str
    replying: bool


async def mark_present(
    *, db: AsyncSession, settings: Settings, case: Case, agent: Agent, replying: bool = False
) -> list[Presence]:
    """Notes that `agent` has the case open (or is replying) for a short while; returns the other
    agents who have it open now. A reply sent ends the agent's "replying"."""
    now = utcnow()
    await db.execute(delete(CasePresence).where(CasePresence.expires_at < now))
    mine = (
        await db.execute(
            select(CasePresence).where(CasePresence.case_id == case.id, CasePresence.agent_id == agent.id)
        )
    ).scalar_one_or_none()
    expires_at = now + timedelta(seconds=settings.helpdesk_presence_seconds)
    if mine is None:
        db.add(CasePresence(case_id=case.id, agent_id=agent.id, replying=replying, expires_at=expires_at))
    else:
        mine.replying, mine.expires_at = replying, expires_at
    await db.flush()
    return await others_present(db=db, case=case, agent=agent)


async def others_present(*, db: AsyncSession, case: Case, agent: Agent) -> list[Presence]:
    rows = await db.execute(
        select(Agent.display_name, CasePresence.replying)
        .join(Agent, Agent.id == CasePresence.agent_id)
        .where(
            CasePresence.case_id == case.id,
            CasePresence.agent_id != agent.id,
            CasePresence.expires_at >= utcnow(),
        )
        .order_by(Agent.display_name)
    )
    return [Presence(agent_name=name, replying=replying) for name, replying in rows.all()]
