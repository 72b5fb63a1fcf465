"""domain.helpdesk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NoteIn:
    """A note to record. Its text is the ``CaseText`` row ``text_id`` (the API kept it), and the
    author's name is looked up by the activity: a case history holds neither."""

    author: str  # "agent:2" / "requester:3"
    visibility: str  # "public" | "internal"
    purpose: str  # "note" | "reply" | "resolution"
    text_id: int | None = None


@dataclass(frozen=True)
class CaseEventIn:
    seq: int
    at: datetime
    kind: str
    actor: str
    priority: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    note: NoteIn | None = None


@dataclass(frozen=True)
class CaseChange:
    """New events of a case and the case row's columns after them."""

    case_id: int
    events: list[CaseEventIn]
    state: str
    priority: str
    assignee_id: int | None
    first_response_breached: bool
    resolution_breached: bool
    resolved_at: datetime | None
    closed_at: datetime | None
    next_update_breached: bool = False


AGENT_ACTIONS = frozenset(
    {
        "assign",
        "note",
        "pending",
        "open",
        "resolve",
        "reopen",
        "priority",
        "team",
        "merge_in",
        "merged",
        "link",
    }
)


REQUESTER_ACTIONS = frozenset({"reply", "reopen"})


# Targets in the order the SLA state names them; used in escalation keys.
SLA_TARGET_NAMES = ("first_response", "resolution", "next_update")


# Signed-link purpose of the satisfaction survey's rating links.
SURVEY_PURPOSE = "helpdesk-survey"
# In the survey email's context: the survey whose rating links the sending activity mints (a link
# token never enters a workflow history or the outbox).
SURVEY_LINK = "_survey_link"


# In a case email's context: the case whose requester, subject and note texts the sending activity
# reads from the database (a case history carries ids only, never personal data).
CASE_MAIL = "_case_id"


@dataclass(frozen=True)
class CaseStart:
    """Everything the workflow needs, fixed at intake (so a settings change affects new cases only).
    No personal data: the requester, subject and description stay in the database."""

    case_id: int
    number: int
    created_at: datetime
    priority: str
    language: str
    team_name: str
    team_email: str
    calendar: dict[str, Any]  # BusinessCalendar.to_dict()
    sla_targets: str  # SlaTargets.to_setting()
    reopen_window_seconds: float
    auto_close_seconds: float
    time_zone: str
    requester_url: str  # where the requester sees the case
    agent_url: str  # where the team works it
    linked_number: int | None = None
    # Business seconds after resolution before the satisfaction survey goes out (None: no survey).
    survey_delay_seconds: float | None = None


@dataclass(frozen=True)
class CaseAction:
    """One change asked of a case. `actor` is "agent:<id>" or "requester:<id>". A note's text is
    the ``CaseText`` row ``text_id``, kept by the API before it asks: never the text itself."""

    kind: str  # assign | note | pending | open | resolve | reopen | priority | team | reply
    # | merge_in (a duplicate's notes come in) | merged (closed into another case) | link
    actor: str
    text_id: int | None = None
    visibility: str = "public"  # for notes: public | internal
    assignee_id: int | None = None
    priority: str | None = None
    body: str = ""  # only in histories recorded before text_id: the workflow reads it for its checks
    answer_by: datetime | None = None  # the caller stops waiting then (see domain.deadlines)
    team_id: int | None = None  # for "team": the team the case moves to, and its escalation address
    team_email: str = ""
    # merge_in / merged / link: the other case (its row id and number). merge_in carries the
    # duplicate's notes, copied as texts (ids only, as any note).
    other_case_id: int | None = None
    other_number: int | None = None
    notes: list[NoteIn] = field(default_factory=list)


@dataclass(frozen=True)
class CaseView:
    number: int
    state: str
    priority: str
    assignee_id: int | None
    first_response_breached: bool
    resolution_breached: bool
    sla: dict[str, Any] = field(default_factory=dict)
    next_update_breached: bool = False


def case_workflow_id(number: int) -> str:
    return f"case-{number}"


@dataclass(frozen=True)
class InboundNote:
    """A requester's email that threads into the case: a public note (the ``CaseText`` row
    ``text_id``), reaching the case once by ``ref`` (the inbound message's row), whatever the retries.
    A pending case goes back to open and a resolved one inside the reopen window reopens."""

    ref: str  # "inbound-<row id>"
    actor: str  # "requester:<id>"
    text_id: int
    answer_by: datetime | None = None


# The case workflow's refusal of an inbound note for a resolved case past its reopen window:
# the note opens a linked follow-up case instead.
REOPEN_WINDOW_PASSED = "reopen_window_passed"
