"""One workflow per help-desk case (ID `case-<number>`), driven by Workflow Updates.

The workflow owns the case once intake has created its row: every change is an
`act` update that is validated against the case's state (an invalid transition
is rejected before anything is written), appended to the event log through an
activity, and answered with the new state. Between changes the workflow sleeps
until the next SLA breach instant or the auto-close instant, both computed
from the event log with the pure `domain.sla.compute_sla`, recomputed after
every change. Email goes out in order from a task of its own, through the
outbox, once per event (natural keys such as `case-1001:resolved:7`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities
    from activities.helpdesk import HelpdeskActivities
    from domain.business_hours import BusinessCalendar, add_business_time
    from domain.deadlines import too_late
    from domain.email import EmailRequest
    from domain.helpdesk import (
        AGENT_ACTIONS,
        CASE_MAIL,
        REOPEN_WINDOW_PASSED,
        REQUESTER_ACTIONS,
        SLA_TARGET_NAMES,
        CaseAction,
        CaseChange,
        CaseEventIn,
        CaseStart,
        CaseView,
        InboundNote,
        NoteIn,
        case_workflow_id,
    )
    from domain.refusals import refused
    from domain.sla import EVENT_KINDS, PRIORITIES, CaseEvent, SlaState, SlaTargets, compute_sla

ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


@workflow.defn
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        # State is set up here, not in run(), so an update that arrives with the start sees it.
        self._lock = asyncio.Lock()
        self._mail: list[EmailRequest] = []
        self._woken = False
        self.start = start
        self.calendar = BusinessCalendar.from_dict(start.calendar)
        self.targets = SlaTargets.parse(start.sla_targets)
        self.state = "new"
        self.priority = start.priority
        self.assignee_id: int | None = None
        # The team whose address escalations go to; an agent may move the case to another team.
        self.team_id: int | None = None
        self.team_email = start.team_email
        self.seq = 1  # 1 is the "created" event intake wrote
        self.sla_events = [CaseEvent(at=start.created_at, kind="created", priority=start.priority)]
        # Public notes as references (author, text id): the texts stay in the database.
        self.public_notes: list[dict[str, Any]] = []
        self.first_response_given = False
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.breaches: dict[str, int] = {name: 0 for name in SLA_TARGET_NAMES}
        # Inbound emails already added (InboundNote.ref): a redelivered one adds nothing.
        self._inbound_refs: set[str] = set()
        self.survey_queued = False  # the satisfaction survey is asked once a case
        self._queue_mail("received", "case_received")

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        # Email goes out in order from its own task, so a relay outage never delays a breach.
        sender = asyncio.create_task(self._send_mail_forever())
        while True:
            async with self._lock:
                await self._escalate_breaches()
                if self._auto_close_due():
                    await self._close()
                self._queue_survey_if_due()
            if self.state == "closed" and self._survey_due_at() is None:
                break
            self._woken = False
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=self._time_to_next_deadline())
            except TimeoutError:
                pass  # a breach or auto-close instant has come: the loop re-checks both
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._mail)
        sender.cancel()
        return "closed"

    # --- the one update -------------------------------------------------------------------------

    @workflow.update
    async def act(self, action: CaseAction) -> CaseView:
        async with self._lock:
            # Checked again under the lock: another update may have changed the state meanwhile.
            refusal = self._refusal(action)
            if refusal:
                raise refused("invalid_transition", refusal)
            events = self._apply(action, workflow.now())
            await self._record(events)
            self._woken = True
            return self.view()

    @act.validator
    def _validate_act(self, action: CaseAction) -> None:
        if too_late(action.answer_by, workflow.now()):
            # Its caller answered 503 ("nothing was changed"): keep that true.
            raise refused("answer_too_late", "The request waited too long for a worker.", "unavailable")
        refusal = self._refusal(action)
        if refusal:
            raise refused("invalid_transition", refusal)

    @workflow.update
    async def inbound_note(self, note: InboundNote) -> CaseView:
        """A requester's email threaded into the case, once per inbound message."""
        async with self._lock:
            if note.ref in self._inbound_refs:
                return self.view()
            if self.state == "closed":
                raise refused("invalid_transition", f"case {self.start.number} is closed")
            now = workflow.now()
            events = []
            if self.state == "resolved":
                if self._refusal(CaseAction(kind="reopen", actor=note.actor)):
                    raise refused(REOPEN_WINDOW_PASSED, "the reopen window has passed", "conflict")
                events += self._apply(CaseAction(kind="reopen", actor=note.actor), now)
            events += self._apply(CaseAction(kind="reply", actor=note.actor, text_id=note.text_id), now)
            self._inbound_refs.add(note.ref)
            await self._record(events)
            self._woken = True
            return self.view()

    @inbound_note.validator
    def _validate_inbound_note(self, note: InboundNote) -> None:
        if too_late(note.answer_by, workflow.now()):
            raise refused("answer_too_late", "The request waited too long for a worker.", "unavailable")

    @workflow.query
    def view(self) -> CaseView:
        return CaseView(
            number=self.start.number,
            state=self.state,
            priority=self.priority,
            assignee_id=self.assignee_id,
            first_response_breached=self.breaches["first_response"] > 0,
            resolution_breached=self.breaches["resolution"] > 0,
            sla=self._sla().to_dict(),
            next_update_breached=self.breaches["next_update"] > 0,
        )

    def _refusal(self, action: CaseAction) -> str | None:
        """Why `action` is not allowed now (None: it is)."""
        kind, state = action.kind, self.state
        is_agent = action.actor.startswith("agent:")
        allowed = AGENT_ACTIONS if is_agent else REQUESTER_ACTIONS
        if kind not in allowed:
            return f"'{kind}' is not something {'an agent' if is_agent else 'a requester'} can do"
        if state == "closed":
            return f"case {self.start.number} is closed"
        if kind in ("note", "reply", "resolve") and not (action.text_id or action.body.strip()):
            return "the note is empty"
        if kind == "note" and action.visibility not in ("public", "internal"):
            return "a note is public or internal"
        if kind == "pending" and state not in ("new", "open"):
            return f"only a new or open case can wait on the requester (this one is {state})"
        if kind == "open" and state != "pending":
            return f"only a pending case can be set open again (this one is {state})"
        if kind == "resolve" and state == "resolved":
            return "the case is already resolved"
        if kind == "reopen":
            if state != "resolved":
                return f"only a resolved case can be reopened (this one is {state})"
            assert self.resolved_at is not None
            window = timedelta(seconds=self.start.reopen_window_seconds)
            if workflow.now() - self.resolved_at > window:
                return "the reopen window has passed; reply to open a new case"
        if kind == "assign" and action.assignee_id is None:
            return "name the agent to assign"
        if kind == "priority":
            if action.priority not in PRIORITIES:
                return f"priority must be one of {', '.join(PRIORITIES)}"
            if action.priority == self.priority:
                return f"the priority is already {self.priority}"
        if kind == "team":
            if action.team_id is None or not action.team_email:
                return "name the team to move the case to"
            if action.team_id == self.team_id:
                return "the case is already with that team"
        if kind in ("merge_in", "merged", "link") and (
            action.other_case_id is None or not action.other_number
        ):
            return "name the other case"
        return None

    def _apply(self, action: CaseAction, now: datetime) -> list[CaseEventIn]:
        """Changes the state for an allowed action; returns the events to record."""
        events: list[CaseEventIn] = []

        def add(kind: str, *, note: NoteIn | None = None, **details: Any) -> None:
            self.seq += 1
            priority = details.pop("priority", None)
            events.append(
                CaseEventIn(
                    seq=self.seq,
                    at=now,
                    kind=kind,
                    actor=action.actor,
                    priority=priority,
                    details=details,
                    note=note,
                )
            )
            if kind in EVENT_KINDS:
                self.sla_events.append(CaseEvent(at=now, kind=kind, priority=priority))

        def add_note(visibility: str, purpose: str) -> None:
            note = NoteIn(action.actor, visibility, purpose, text_id=action.text_id)
            add("note", note=note, visibility=visibility, purpose=purpose)
            if visibility == "public":
                # The next-update clock reads public notes (services.helpdesk.sla_events does too).
                wrote = "agent_answered" if action.actor.startswith("agent:") else "requester_wrote"
                self.sla_events.append(CaseEvent(at=now, kind=wrote))
                self.public_notes.append(
                    {
                        "at": now.isoformat(),
                        "author": action.actor,
                        "text_id": action.text_id,
                        "purpose": purpose,
                    }
                )
                if action.actor.startswith("agent:") and not self.first_response_given:
                    self.first_response_given = True
                    add("first_response")

        kind = action.kind
        if kind == "assign":
            self.assignee_id = action.assignee_id
            add("assigned", assignee_id=action.assignee_id)
            if self.state == "new":
                self.state = "open"
        elif kind == "note":
            add_note(action.visibility, "note")
            if action.visibility == "public":
                if self.state == "new":
                    self.state = "open"
                self._queue_mail(f"note:{self.seq}", "case_note", note_text_id=action.text_id)
        elif kind == "reply":
            add_note("public", "reply")
            if self.state == "pending":
                self.state = "open"
                add("open")
        elif kind == "pending":
            if action.text_id or action.body.strip():
                add_note("public", "note")
            self.state = "pending"
            add("pending")
            self._queue_mail(f"pending:{self.seq}", "case_pending", note_text_id=action.text_id)
        elif kind == "open":
            self.state = "open"
            add("open")
        elif kind == "resolve":
            add_note("public", "resolution")
            self.state = "resolved"
            self.resolved_at = now
            add("resolved")
            # The resolution is shown on its own; the list holds every public note before it.
            self._queue_mail(
                f"resolved:{self.seq}",
                "case_resolved",
                resolution_text_id=action.text_id,
                public_notes=self.public_notes[:-1],
            )
        elif kind == "reopen":
            self.state = "open"
            self.resolved_at = None
            add("reopened")
            self._queue_mail(f"reopened:{self.seq}", "case_reopened", reopened_by_actor=action.actor)
        elif kind == "priority":
            previous, self.priority = self.priority, action.priority or self.priority
            add("priority", priority=self.priority, previous=previous)
        elif kind == "team":
            # The new team works it from its own queue: nobody of the old team stays assigned.
            self.team_id, self.team_email, self.assignee_id = action.team_id, action.team_email, None
            add("team", team_id=action.team_id)
        elif kind == "merge_in":
            for moved in action.notes:
                add(
                    "note",
                    note=moved,
                    visibility=moved.visibility,
                    purpose=moved.purpose,
                    from_number=action.other_number,
                )
                if moved.visibility == "public":
                    self.public_notes.append(
                        {
                            "at": now.isoformat(),
                            "author": moved.author,
                            "text_id": moved.text_id,
                            "purpose": "note",
                        }
                    )
            add("merged_in", from_case_id=action.other_case_id, from_number=action.other_number)
        elif kind == "merged":
            # A duplicate closes at once, pointing at the case the work goes on in; its requester is told.
            self.state, self.closed_at = "closed", now
            add("merged", into_case_id=action.other_case_id, into_number=action.other_number)
            add("closed")
            into_url = f"{self.start.requester_url.rsplit('/', 1)[0]}/{action.other_number}"
            self._queue_mail("merged", "case_merged", into_number=action.other_number, into_url=into_url)
        elif kind == "link":
            add("linked", related_case_id=action.other_case_id, related_number=action.other_number)
        return events

    # --- SLA, escalation and auto-close ---------------------------------------------------------

    def _sla(self) -> SlaState:
        return compute_sla(self.sla_events, self.calendar, self.targets, workflow.now())

    async def _escalate_breaches(self) -> None:
        """Flags the case and emails the team once for each target that has newly breached."""
        sla = self._sla()
        events: list[CaseEventIn] = []
        for name, target in sla.by_name.items():
            # First response and resolution breach once a case; next update once a requester wait.
            owed = sla.next_update_breaches if name == "next_update" else int(target.breached)
            if self.breaches[name] >= owed:
                continue
            self.breaches[name] += 1
            self.seq += 1
            due = target.breached_at.isoformat() if target.breached_at else ""
            events.append(
                CaseEventIn(
                    seq=self.seq,
                    at=workflow.now(),
                    kind="breach",
                    actor="system",
                    details={"target": name, "due_at": due, "priority": sla.priority},
                )
            )
            self._queue_mail(
                f"breach:{name}:{self.breaches[name]}",
                "case_breach",
                to=self.team_email,
                language="en",
                target=name,
                due_at=due,
                priority=sla.priority,
            )
        if events:
            await self._record(events)

    def _auto_close_due(self) -> bool:
        if self.state != "resolved" or self.resolved_at is None:
            return False
        return workflow.now() >= self.resolved_at + timedelta(seconds=self.start.auto_close_seconds)

    async def _close(self) -> None:
        now = workflow.now()
        self.state = "closed"
        self.closed_at = now
        self.seq += 1
        self.sla_events.append(CaseEvent(at=now, kind="closed"))
        await self._record([CaseEventIn(seq=self.seq, at=now, kind="closed", actor="system")])
        self._queue_mail("closed", "case_closed")

    def _survey_due_at(self) -> datetime | None:
        """When the satisfaction survey goes out: the configured business time after resolution.
        A reopen clears the resolution, so it cancels a survey not yet sent; a closed case still
        gets its survey when the time comes."""
        delay = self.start.survey_delay_seconds
        if not delay or self.survey_queued or self.resolved_at is None:
            return None
        return add_business_time(self.calendar, self.resolved_at, timedelta(seconds=delay))

    def _queue_survey_if_due(self) -> None:
        due = self._survey_due_at()
        if due is not None and workflow.now() >= due:
            self.survey_queued = True
            self._queue_mail("survey", "case_survey")

    def _time_to_next_deadline(self) -> timedelta | None:
        now = workflow.now()
        deadlines = []
        survey = self._survey_due_at()
        if survey is not None:
            deadlines.append(survey)
        upcoming = self._sla().next_breach_instant
        if upcoming is not None:
            deadlines.append(upcoming)
        if self.state == "resolved" and self.resolved_at is not None:
            deadlines.append(self.resolved_at + timedelta(seconds=self.start.auto_close_seconds))
        if not deadlines:
            return None
        # At least a millisecond: a timer must have a positive duration.
        return max(min(deadlines) - now, timedelta(milliseconds=1))

    # --- records and email ----------------------------------------------------------------------

    async def _record(self, events: list[CaseEventIn]) -> None:
        await workflow.execute_activity_method(
            HelpdeskActivities.record_case_change,
            CaseChange(
                case_id=self.start.case_id,
                events=events,
                state=self.state,
                priority=self.priority,
                assignee_id=self.assignee_id,
                first_response_breached=self.breaches["first_response"] > 0,
                resolution_breached=self.breaches["resolution"] > 0,
                resolved_at=self.resolved_at,
                closed_at=self.closed_at,
                next_update_breached=self.breaches["next_update"] > 0,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )

    def _queue_mail(
        self, event: str, template: str, *, to: str | None = None, language: str | None = None, **extra: Any
    ) -> None:
        start = self.start
        # References only: the sending activity reads the requester, subject and texts (CASE_MAIL).
        context = {
            CASE_MAIL: start.case_id,
            "number": start.number,
            "team_name": start.team_name,
            "state": self.state,
            "time_zone": start.time_zone,
            "case_url": start.requester_url if to is None else start.agent_url,
            "linked_number": start.linked_number,
            "public_notes": list(self.public_notes),
            "reopen_days": f"{start.reopen_window_seconds / 86400:.3g}",
            "auto_close_days": f"{start.auto_close_seconds / 86400:.3g}",
            **extra,
        }
        self._mail.append(
            EmailRequest(
                key=f"{case_workflow_id(start.number)}:{event}",
                to=to or "",  # "": the case's requester, whose address the activity reads
                language=language or start.language,
                template=template,
                context=context,
            )
        )

    async def _send_mail_forever(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._mail))
            await workflow.execute_activity_method(
                EmailActivities.deliver_email,
                self._mail[0],
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=ACTIVITY_RETRY,
            )
            self._mail.pop(0)
