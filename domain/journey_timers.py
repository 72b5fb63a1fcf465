"""What a journey waits for next: pure, so the workflow and the tests compute it the same way.

Given the series as it stands (rule, documented doses, the current appointment,
what was already announced), ``pending_timers`` lists every timed event still
ahead and ``next_timer`` picks the earliest. The workflow sleeps until then
(or until its state changes, when it asks again), so every timer is recomputed
whenever a booking, a dose or a removal changes the picture. No wall clock,
no I/O, nothing from Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.dose_rules import ProductRule, next_dose_window, reminder_instant

REMINDER = "reminder"
MISSED = "missed"
DOSE_DUE = "dose_due"
OVERDUE = "overdue"


@dataclass(frozen=True)
class TimedDose:
    dose_id: int
    dose_number: int
    given_at: datetime


@dataclass(frozen=True)
class TimedAppointment:
    appointment_id: int
    start_at: datetime
    end_at: datetime
    status: str  # only "booked" appointments have timers
    invite_sequence: int


@dataclass(frozen=True)
class TimerInputs:
    rule: ProductRule | None
    doses: tuple[TimedDose, ...]
    appointment: TimedAppointment | None
    day_seconds: float
    reminder_lead_seconds: float
    # Marks of events already handled (see Timer.mark), so a timer fires once.
    done: frozenset[str] = field(default_factory=frozenset)
    # How many doses were removed in error so far: a series stepping back announces again.
    removals: int = 0


@dataclass(frozen=True)
class Timer:
    at: datetime
    event: str
    mark: str  # unique per occurrence, e.g. "reminder:a12.1" or "dose_due:d7.0"
    appointment_id: int | None = None
    dose_number: int | None = None  # the dose that is due / overdue


def pending_timers(state: TimerInputs, now: datetime) -> list[Timer]:
    """Every timed event still to come (or already due), earliest first."""
    timers: list[Timer] = []
    appointment = state.appointment
    if appointment is not None and appointment.status == "booked":
        remind_at = reminder_instant(appointment.start_at, state.reminder_lead_seconds)
        mark = f"{REMINDER}:a{appointment.appointment_id}.{appointment.invite_sequence}"
        # A reminder that could only arrive after the appointment began is dropped, not sent late.
        if mark not in state.done and now < appointment.start_at:
            timers.append(Timer(remind_at, REMINDER, mark, appointment_id=appointment.appointment_id))
        timers.append(
            Timer(
                appointment.end_at,
                MISSED,
                f"{MISSED}:a{appointment.appointment_id}",
                appointment_id=appointment.appointment_id,
            )
        )
    rule = state.rule
    has_appointment = appointment is not None and appointment.status in ("booked", "checked_in")
    if rule is not None and state.doses and len(state.doses) < rule.doses and not has_appointment:
        last = max(state.doses, key=lambda d: d.dose_number)
        number = last.dose_number + 1
        window = next_dose_window(rule, last.given_at, state.day_seconds, number)
        occurrence = f"d{last.dose_id}.{state.removals}"
        for at, event in ((window.earliest, DOSE_DUE), (window.recommended_latest, OVERDUE)):
            mark = f"{event}:{occurrence}"
            if mark not in state.done:
                timers.append(Timer(at, event, mark, dose_number=number))
    return sorted(timers, key=lambda t: (t.at, t.event))


def next_timer(state: TimerInputs, now: datetime) -> Timer | None:
    timers = pending_timers(state, now)
    return timers[0] if timers else None
