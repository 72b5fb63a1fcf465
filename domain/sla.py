"""SLA clocks of a help-desk case, as a pure function of its event log.

Imported inside Temporal workflows and by the API, so this module does no I/O,
never reads the wall clock (``now`` is always passed in: the workflow passes
``workflow.now()``, the API the real time), uses no randomness and imports
nothing from Temporal.

Three targets run per case, all counted in business time of the help desk's
calendar (see ``domain.business_hours``): *first response*, *resolution* and
*next update* (the last only when the priority's targets name one). Rules,
applied to the events in time order (events at the same instant keep their log
order):

* Both clocks start at ``created`` (whose ``priority`` gives the initial
  priority; ``normal`` when absent).
* ``pending`` stops both clocks (waiting on the requester); ``open`` resumes.
* ``first_response`` completes the first-response target.
* ``resolved`` completes the resolution target, and the first-response target
  too if still open (the resolution email is a response to the requester).
  ``reopened`` re-arms the resolution clock, keeping the time accumulated before.
* ``closed`` completes whatever is still open, like ``resolved``.
* ``priority`` re-targets both clocks with the new priority's values; elapsed
  time is kept. If the elapsed time already exceeds a new target, that target
  is breached at the instant of the change.
* Next update: ``requester_wrote`` (a public note from the requester) starts a
  wait unless one is already open (a second message does not restart the
  clock: the requester has waited since the first unanswered one);
  ``agent_answered`` (an agent's public note) ends it; pending pauses it like
  the others; ``resolved`` and ``closed`` end it. Each wait is a target of its
  own: one that runs past the target is one breach, so a case breaches (and
  escalates) once per unanswered wait, never twice for the same one.
* A target is *due* at the earliest instant its elapsed business time reaches
  the target. It is *breached* at that instant unless completed at or before
  it. A breach is permanent (it has been escalated): completing later, lowering
  the priority or reopening does not undo it.

Events stamped after ``now`` (clock skew between worker and API) are still
applied; the state is then observed at the last event's instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.business_hours import BusinessCalendar, add_business_time, business_time_between
from domain.sla_targets import DEFAULT_SLA_TARGETS, PRIORITIES, PriorityTargets, SlaTargets

__all__ = [
    "AT_RISK_FRACTION",
    "DEFAULT_PRIORITY",
    "DEFAULT_SLA_TARGETS",
    "EVENT_KINDS",
    "PRIORITIES",
    "STATUSES",
    "CaseEvent",
    "PriorityTargets",
    "SlaState",
    "SlaTargets",
    "TargetState",
    "compute_sla",
]

DEFAULT_PRIORITY = "normal"
EVENT_KINDS = frozenset(
    {
        "created",
        "first_response",
        "pending",
        "open",
        "resolved",
        "reopened",
        "closed",
        "priority",
        "requester_wrote",
        "agent_answered",
    }
)
# Queue-view statuses of one target, in the order they are decided ("idle": next update with no
# requester message waiting).
STATUSES = ("met", "breached", "paused", "at_risk", "ok", "idle")
# A running target is "at_risk" when less than this fraction of it is left.
AT_RISK_FRACTION = 0.25

_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CaseEvent:
    """One entry of a case's event log that matters to its SLA clocks.

    ``priority`` is the new priority of a ``priority`` event, and optionally the
    initial priority of ``created``; other kinds leave it ``None``.
    """

    at: datetime
    kind: str
    priority: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.at, datetime) or self.at.utcoffset() is None:
            raise ValueError(f"event time must be an aware datetime, got {self.at!r}")
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown case event kind {self.kind!r} (one of {sorted(EVENT_KINDS)})")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {self.priority!r} (one of {PRIORITIES})")
        if self.kind == "priority" and self.priority is None:
            raise ValueError("a 'priority' event needs the new priority")
        if self.priority is not None and self.kind not in ("priority", "created"):
            raise ValueError(f"a {self.kind!r} event carries no priority")


@dataclass(frozen=True)
class TargetState:
    """One SLA target as of the observation instant."""

    target_seconds: float
    elapsed_business_seconds: float
    # When the target is (or was) due while its clock runs; None while paused or completed.
    due_at: datetime | None
    met: bool  # completed at or before its due instant
    breached: bool
    breached_at: datetime | None
    completed_at: datetime | None  # first response given / case resolved (None when re-armed)
    running: bool
    status: str  # one of STATUSES


@dataclass(frozen=True)
class SlaState:
    """The SLA targets of a case as of ``as_of``."""

    priority: str
    first_response: TargetState
    resolution: TargetState
    clock_running: bool  # whether any target's clock is counting
    as_of: datetime
    # The current (or last) requester wait; None when the case's targets have no next-update clock.
    next_update: TargetState | None = None
    next_update_waits: int = 0  # requester waits so far
    next_update_breaches: int = 0  # of them, those that ran past the target

    @property
    def targets(self) -> tuple[TargetState, ...]:
        return tuple(self.by_name.values())

    @property
    def by_name(self) -> dict[str, TargetState]:
        """The targets by name (``first_response``, ``resolution``, ``next_update`` if kept)."""
        named = {"first_response": self.first_response, "resolution": self.resolution}
        if self.next_update is not None:
            named["next_update"] = self.next_update
        return named

    @property
    def next_breach_instant(self) -> datetime | None:
        """The earliest upcoming breach if nothing changes (for a workflow timer); else None.

        Always after ``as_of``: a due instant at or before it is already a breach.
        """
        upcoming = [t.due_at for t in self.targets if t.due_at is not None and not t.breached]
        return min(upcoming, default=None)

    @property
    def breach_sort_key(self) -> tuple[int, datetime]:
        """Sort key for queues, "oldest breach first".

        Cases with an open breach (breached and not yet completed) come first,
        oldest breach first; then running cases by nearest due instant; then the
        rest (paused, or nothing left to meet).
        """
        open_breaches = [
            t.breached_at for t in self.targets if t.breached_at is not None and t.completed_at is None
        ]
        if open_breaches:
            return (0, min(open_breaches))
        upcoming = self.next_breach_instant
        if upcoming is not None:
            return (1, upcoming)
        return (2, _FAR_FUTURE)

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly form (instants as ISO 8601 strings)."""

        def target(t: TargetState) -> dict[str, object]:
            return {
                "target_seconds": t.target_seconds,
                "elapsed_business_seconds": t.elapsed_business_seconds,
                "due_at": _iso(t.due_at),
                "met": t.met,
                "breached": t.breached,
                "breached_at": _iso(t.breached_at),
                "completed_at": _iso(t.completed_at),
                "running": t.running,
                "status": t.status,
            }

        return {
            "priority": self.priority,
            "first_response": target(self.first_response),
            "resolution": target(self.resolution),
            "next_update": None if self.next_update is None else target(self.next_update),
            "next_update_waits": self.next_update_waits,
            "next_update_breaches": self.next_update_breaches,
            "clock_running": self.clock_running,
            "next_breach_instant": _iso(self.next_breach_instant),
            "as_of": _iso(self.as_of),
        }


def compute_sla(
    events: Sequence[CaseEvent],
    cal: BusinessCalendar,
    targets: SlaTargets,
    now: datetime,
) -> SlaState:
    """The SLA state of a case from its event log, observed at ``now``."""
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got {now!r}")
    ordered = sorted(events, key=lambda event: event.at)  # stable: ties keep log order
    if not ordered or ordered[0].kind != "created":
        raise ValueError("a case's event log must start with a 'created' event")

    priority = ordered[0].priority or DEFAULT_PRIORITY
    initial = targets.for_priority(priority)
    first_response = _Clock(cal, initial.first_response_seconds)
    resolution = _Clock(cal, initial.resolution_seconds)
    next_update_target = initial.next_update_seconds
    waits: list[_Clock] = []  # one per requester wait; only the last may still be open
    paused = False

    for index, event in enumerate(ordered):
        at = event.at.astimezone(UTC)
        clocks = (first_response, resolution, *waits[-1:])
        for clock in clocks:
            clock.breach_if_due_before(at)
        kind = event.kind
        if kind == "created":
            if index:
                raise ValueError("a case's event log has more than one 'created' event")
        elif kind == "first_response":
            first_response.complete(at)
        elif kind == "pending":
            paused = True
        elif kind == "open":
            paused = False
        elif kind in ("resolved", "closed"):
            for clock in clocks:
                clock.complete(at)
            paused = False
        elif kind == "requester_wrote":
            if next_update_target is not None and (not waits or waits[-1].completed_at is not None):
                waits.append(_Clock(cal, next_update_target))
        elif kind == "agent_answered":
            if waits:
                waits[-1].complete(at)
        elif kind == "reopened":
            resolution.rearm()
            paused = False
        elif kind == "priority":
            assert event.priority is not None  # CaseEvent guarantees it
            priority = event.priority
            new = targets.for_priority(priority)
            first_response.retarget(new.first_response_seconds)
            resolution.retarget(new.resolution_seconds)
            if next_update_target is not None and new.next_update_seconds is not None:
                next_update_target = new.next_update_seconds
                if waits:
                    waits[-1].retarget(next_update_target)
        clocks = (first_response, resolution, *waits[-1:])
        for clock in clocks:
            clock.run(not paused, at)
            clock.breach_if_exceeded(at)

    as_of = max(now.astimezone(UTC), ordered[-1].at.astimezone(UTC))
    clocks = (first_response, resolution, *waits[-1:])
    for clock in clocks:
        clock.breach_if_due_at_or_before(as_of)
    next_update = None
    if next_update_target is not None:
        next_update = waits[-1].state(as_of) if waits else _idle(next_update_target)
    return SlaState(
        priority=priority,
        first_response=first_response.state(as_of),
        resolution=resolution.state(as_of),
        clock_running=any(clock.counting for clock in clocks),
        as_of=as_of,
        next_update=next_update,
        next_update_waits=len(waits),
        next_update_breaches=sum(wait.breached_at is not None for wait in waits),
    )


def _idle(target_seconds: float) -> TargetState:
    """The next-update target while no requester message waits for an answer."""
    return TargetState(
        target_seconds=target_seconds,
        elapsed_business_seconds=0.0,
        due_at=None,
        met=False,
        breached=False,
        breached_at=None,
        completed_at=None,
        running=False,
        status="idle",
    )


class _Clock:
    """Mutable bookkeeping of one target while ``compute_sla`` replays the log."""

    def __init__(self, cal: BusinessCalendar, target_seconds: float) -> None:
        self.cal = cal
        self.target_seconds = target_seconds
        self.target = timedelta(seconds=target_seconds)
        self.banked = timedelta(0)  # business time counted before ``running_since``
        self.running_since: datetime | None = None
        self.completed_at: datetime | None = None
        self.breached_at: datetime | None = None

    @property
    def counting(self) -> bool:
        return self.running_since is not None and self.completed_at is None

    def elapsed(self, at: datetime) -> timedelta:
        if self.running_since is None:
            return self.banked
        return self.banked + business_time_between(self.cal, self.running_since, at)

    def _due(self) -> datetime | None:
        """Instant the target is reached while counting and not yet breached."""
        if not self.counting or self.breached_at is not None:
            return None
        assert self.running_since is not None
        # Invariant: a counting, unbreached clock has banked < target (breach_if_exceeded).
        return add_business_time(self.cal, self.running_since, self.target - self.banked)

    def breach_if_due_before(self, at: datetime) -> None:
        # Cheap test first: computing the due instant only when it may have passed.
        if self.counting and self.breached_at is None and self.elapsed(at) >= self.target:
            due = self._due()
            if due is not None and due < at:  # due == at: an event at ``at`` may still meet it
                self.breached_at = due

    def breach_if_due_at_or_before(self, at: datetime) -> None:
        due = self._due()
        if due is not None and due <= at:
            self.breached_at = due

    def breach_if_exceeded(self, at: datetime) -> None:
        if self.completed_at is None and self.breached_at is None:
            if self.elapsed(at) >= self.target:
                self.breached_at = at

    def run(self, should_run: bool, at: datetime) -> None:
        should_run = should_run and self.completed_at is None
        if should_run and self.running_since is None:
            self.running_since = at
        elif not should_run and self.running_since is not None:
            self.banked = self.elapsed(at)
            self.running_since = None

    def complete(self, at: datetime) -> None:
        if self.completed_at is None:
            self.completed_at = at

    def rearm(self) -> None:
        self.completed_at = None

    def retarget(self, target_seconds: float) -> None:
        self.target_seconds = target_seconds
        self.target = timedelta(seconds=target_seconds)

    def state(self, as_of: datetime) -> TargetState:
        elapsed = self.elapsed(as_of)
        breached = self.breached_at is not None
        met = self.completed_at is not None and not breached
        running = self.counting
        due_at = (self.breached_at if breached else self._due()) if running else None
        if met:
            status = "met"
        elif breached:
            status = "breached"
        elif not running:
            status = "paused"
        elif self.target - elapsed < self.target * AT_RISK_FRACTION:
            status = "at_risk"
        else:
            status = "ok"
        return TargetState(
            target_seconds=self.target_seconds,
            elapsed_business_seconds=elapsed.total_seconds(),
            due_at=due_at,
            met=met,
            breached=breached,
            breached_at=self.breached_at,
            completed_at=self.completed_at,
            running=running,
            status=status,
        )


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()
