"""The state of one dose series and the checks every change to it must pass.

Pure: the journey workflow keeps a ``SeriesState`` and asks it whether a booking, a move of the
appointment, a dose, an edit or a removal may happen (each check raises the refusal the update
fails with), what the series looks like, and which timers it waits for. The same dose-window
rules (``domain.dose_rules``) answer for the API before it asks the workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.dose_rules import (
    ProductRule,
    RuleViolation,
    check_booking,
    check_documentation,
    check_next_product,
    check_same_product,
    next_dose_window,
)
from domain.journey_messages import (
    AppointmentFact,
    AppointmentRequest,
    BookRequest,
    DocumentRequest,
    DoseFact,
    EditDoseRequest,
    JourneyInput,
    JourneyView,
    RemoveDoseRequest,
    RescheduleRequest,
)
from domain.journey_timers import TimedAppointment, TimedDose, TimerInputs, next_timer
from domain.refusals import as_application_error, refused
from domain.scheduling import cannot_move_message, may_move


def next_product(series: JourneyInput) -> str | None:
    """The product the series' next dose must be: its active appointment's, else (after its first
    dose) the series' own; None when a walk-in may start it with any product."""
    if series.appointment is not None and series.appointment.active:
        return series.appointment.product_code
    if series.doses:
        return series.rule.code if series.rule is not None else series.doses[-1].product_code
    return None


class SeriesState:
    def __init__(self, input: JourneyInput) -> None:
        self.input = input
        self.rule: ProductRule | None = input.rule
        self.doses: list[DoseFact] = sorted(input.doses, key=lambda d: d.dose_number)
        self.appointment: AppointmentFact | None = input.appointment
        self.removals = input.removals
        self.done: set[str] = set()  # timers that fired (their natural keys)

    def _check_book(self, request: BookRequest) -> tuple[ProductRule, int]:
        if self.appointment is not None and self.appointment.active:
            raise refused(
                "already_booked",
                "This series already has an appointment; reschedule or cancel it instead.",
                appointment_id=self.appointment.appointment_id,
            )
        number = len(self.doses) + 1
        rule = self._series_rule(request.rule)
        self._check_number(request.dose_number, number)
        try:
            if self.doses:
                check_same_product(rule.code, request.slot.product_code)
            check_booking(
                rule,
                number,
                request.slot.start_at,
                self.doses[-1].given_at if self.doses else None,
                self.input.day_seconds,
            )
        except RuleViolation as violation:
            raise as_application_error(violation) from None
        return rule, number

    def _check_reschedule(self, request: RescheduleRequest) -> None:
        current = self._current_appointment(request.appointment_id)
        if current.status != "booked":
            raise refused("appointment_status", f"This appointment is {current.status}; it cannot move.")
        if request.slot.slot_id == current.slot_id:
            raise refused("same_slot", "The appointment is already in this slot.")
        if request.slot.product_code != current.product_code:
            raise refused(
                "wrong_product",
                f"This appointment is for {current.product_code}; "
                f"the slot offers {request.slot.product_code}.",
            )
        try:
            check_booking(
                self._rule(),
                current.dose_number,
                request.slot.start_at,
                self.doses[-1].given_at if self.doses else None,
                self.input.day_seconds,
            )
        except RuleViolation as violation:
            raise as_application_error(violation) from None

    def _check_move(self, request: AppointmentRequest, to_status: str) -> AppointmentFact:
        current = self._current_appointment(request.appointment_id)
        if not may_move(current.status, to_status):
            raise refused("appointment_status", cannot_move_message(current.status, to_status))
        return current

    def _check_document(self, request: DocumentRequest) -> tuple[ProductRule, int, str | None]:
        number = len(self.doses) + 1
        rule = self._series_rule(request.rule)
        self._check_number(request.dose_number, number)
        try:
            booked = self.appointment.product_code if self.appointment and self.appointment.active else None
            check_next_product(rule.code if self.doses else None, booked, request.rule.code)
            warning = check_documentation(
                rule,
                number,
                request.given_at,
                self.doses[-1].given_at if self.doses else None,
                self.input.day_seconds,
            )
        except RuleViolation as violation:
            raise as_application_error(violation) from None
        return rule, number, warning

    def _check_edit(self, request: EditDoseRequest) -> int:
        index = self._dose_index(request.dose_id)
        given_at = request.changes.given_at
        if given_at is not None:
            dose = self.doses[index]
            try:
                check_documentation(
                    self._rule(),
                    dose.dose_number,
                    given_at,
                    self.doses[index - 1].given_at if index > 0 else None,
                    self.input.day_seconds,
                )
                if index + 1 < len(self.doses):
                    check_documentation(
                        self._rule(),
                        self.doses[index + 1].dose_number,
                        self.doses[index + 1].given_at,
                        given_at,
                        self.input.day_seconds,
                    )
            except RuleViolation as violation:
                raise as_application_error(violation) from None
        return index

    def _check_remove(self, request: RemoveDoseRequest) -> None:
        index = self._dose_index(request.dose_id)
        if index != len(self.doses) - 1:
            raise refused(
                "later_dose_exists",
                f"Dose {self.doses[-1].dose_number} of this series is documented; remove it first.",
            )

    @property
    def complete(self) -> bool:
        return self.rule is not None and len(self.doses) >= self.rule.doses

    def _series_rule(self, newest: ProductRule) -> ProductRule:
        """A series keeps the rule version it started with; before its first dose a booking or
        dose of another product starts it afresh with that product's newest version."""
        if self.doses:
            return self._rule()
        if self.rule is not None and self.rule.code == newest.code:
            return self.rule
        return newest

    def _rule(self) -> ProductRule:
        if self.rule is None:
            raise refused("no_series", "This series has no product yet.")
        return self.rule

    def _check_number(self, requested: int | None, expected: int) -> None:
        if requested is not None and requested != expected:
            raise refused(
                "dose_number_mismatch",
                f"This series has {expected - 1} dose(s) documented; the next is dose {expected}, "
                f"not dose {requested}.",
                expected=expected,
            )

    def _current_appointment(self, appointment_id: int) -> AppointmentFact:
        current = self.appointment
        if current is None or current.appointment_id != appointment_id:
            raise refused("not_current", "This is not the series' current appointment.")
        return current

    def _dose_index(self, dose_id: int) -> int:
        for index, dose in enumerate(self.doses):
            if dose.dose_id == dose_id:
                return index
        raise refused(
            "not_found", "No such dose in this series (it may have been removed).", kind="not_found"
        )

    def _timer_inputs(self) -> TimerInputs:
        appointment = self.appointment
        return TimerInputs(
            rule=self.rule,
            doses=tuple(TimedDose(d.dose_id, d.dose_number, d.given_at) for d in self.doses),
            appointment=TimedAppointment(
                appointment.appointment_id,
                appointment.start_at,
                appointment.end_at,
                appointment.status,
                appointment.invite_sequence,
            )
            if appointment is not None
            else None,
            day_seconds=self.input.day_seconds,
            reminder_lead_seconds=self.input.reminder_lead_seconds,
            done=frozenset(self.done),
            removals=self.removals,
        )

    def series_view(self, now: datetime) -> JourneyView:
        """The series as it stands: doses, appointment, and what it waits for next."""
        timer = next_timer(self._timer_inputs(), now) if not self.complete else None
        rule = self.rule
        earliest = latest = None
        next_number = None
        if rule is not None and not self.complete:
            next_number = len(self.doses) + 1
            if self.doses:
                window = next_dose_window(rule, self.doses[-1].given_at, self.input.day_seconds, next_number)
                earliest, latest = window.earliest, window.recommended_latest
        next_event, next_event_at = (timer.event, timer.at) if timer else (None, None)
        if self.complete and rule is not None and rule.next_after_days > 0 and self.doses:
            # A complete series its schedule follows with a booster waits to announce it.
            next_event = "booster_due"
            next_event_at = self.doses[-1].given_at + timedelta(
                seconds=rule.next_after_days * self.input.day_seconds
            )
        return JourneyView(
            journey_id=self.input.journey_id,
            recipient_id=self.input.recipient_id,
            series_no=self.input.series_no,
            product_code=rule.code if rule else None,
            product_version=rule.version if rule else None,
            doses_required=rule.doses if rule else None,
            doses=list(self.doses),
            appointment=self.appointment,
            complete=self.complete,
            next_dose_number=next_number,
            next_dose_earliest=earliest,
            next_dose_latest=latest,
            next_event=next_event,
            next_event_at=next_event_at,
        )
