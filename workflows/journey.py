"""The dose-series journey: one workflow per recipient and series, `journey-<recipient>-<series>`.

The API drives it with Workflow Updates (book, reschedule, cancel, check in,
no-show, document / edit / remove a dose), started with update-with-start so
the first booking or walk-in dose creates it. Each handler checks the rules
(validators refuse before anything enters history where the state suffices),
does its one database step as a local activity, and returns. The main loop
sends the email the handlers announced and sleeps until the next timed event
(reminder, missed appointment, next dose due, overdue) or a state change,
whichever comes first, then recomputes: nothing polls.

Deterministic: no I/O, no wall clock; durations come from the input (the
settings when the journey started), the rule version is the one it started with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journey import JourneyActivities
    from activities.waitlist import WaitlistActivities
    from domain.deadlines import too_late
    from domain.dose_rules import (
        next_dose_window,
    )
    from domain.journey_messages import (
        BOOSTER_DUE,
        AppointmentFact,
        AppointmentRequest,
        BookRequest,
        BookStep,
        ComposeStep,
        DocumentOutcome,
        DocumentRequest,
        DocumentResult,
        DocumentStep,
        DoseFact,
        EditDoseRequest,
        EditStep,
        JourneyInput,
        JourneyView,
        RemoveDoseRequest,
        RemoveStep,
        RescheduleRequest,
        RescheduleStep,
        StatusStep,
    )
    from domain.journey_timers import (
        DOSE_DUE,
        MISSED,
        OVERDUE,
        REMINDER,
        Timer,
        next_timer,
    )
    from domain.refusals import REFUSED, refused
    from domain.scheduling import SeatOpening
    from domain.series import SeriesState

# Steps a person waits for: a few quick attempts, then the update fails and the API says so.
STEP_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)
# Steps the journey takes on its own (a missed appointment): keep trying.
SYSTEM_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
EMAIL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
SYSTEM = "system"

_Step = TypeVar("_Step")
_Result = TypeVar("_Result")


# --------------------------------------------------------------------------- the workflow


def _in_time(answer_by: datetime | None) -> None:
    """Refuses an update its caller stopped waiting for (it answered 503, "nothing was changed")."""
    if too_late(answer_by, workflow.now()):
        raise refused(
            "answer_too_late", "The request waited too long for a worker; nothing was changed.", "unavailable"
        )


# Outside the SDK's sandbox: every booking starts a journey, and a sandbox per journey (re-running
# this module, its class definition and every payload conversion through the sandbox) was a third
# of the worker's CPU per booking. Its checks still run: tests/test_history_replay.py replays every
# recorded journey inside the sandbox, and the import contracts keep I/O out of workflows/.
# Nothing here is mutable at module level, so journeys share the module safely.
@workflow.defn(sandboxed=False)
class JourneyWorkflow(SeriesState):
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        super().__init__(input)
        self.outbox: list[ComposeStep] = []
        self.openings: list[SeatOpening] = []  # seats this series gave back, for the waitlist
        self.version = 0  # bumped on every state change, wakes the main loop to recompute timers
        self.lock = asyncio.Lock()  # one handler at a time changes the series

    # ---- main loop

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyView:
        while True:
            await self._deliver_announcements()
            if self.complete:
                # Let in-flight handlers (a removal reopening the series) finish before deciding.
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self.complete and not self.outbox and not self.openings:
                    if await self._wait_for_next_series():
                        continue
                    return self.view()
                continue
            timer = next_timer(self._timer_inputs(), workflow.now())
            woken = self._woken_after(self.version)
            if timer is None:
                if not self._idle():
                    await workflow.wait_condition(woken)
                    continue
                # Nothing booked, nothing given (a refused first booking, a cancelled one):
                # close after a quiet spell; the next call starts a new run from the records.
                try:
                    await workflow.wait_condition(woken, timeout=self.input.idle_close_seconds)
                except TimeoutError:
                    if self._idle() and workflow.all_handlers_finished():
                        return self.view()
                continue
            delay = (timer.at - workflow.now()).total_seconds()
            if delay > 0:
                try:
                    await workflow.wait_condition(woken, timeout=delay, timeout_summary=timer.event)
                    continue
                except TimeoutError:
                    pass
            await self._fire(timer)

    async def _fire(self, timer: Timer) -> None:
        self.done.add(timer.mark)
        appointment = self.appointment
        if timer.event == REMINDER and appointment is not None:
            # The reminder carries the invite too (same UID and SEQUENCE: the same calendar event).
            self._announce(
                "reminder",
                f"a{appointment.appointment_id}.{appointment.invite_sequence}",
                appointment,
                invite="REQUEST",
            )
        elif timer.event == MISSED and appointment is not None:
            async with self.lock:
                current = self.appointment
                if current is None or current.appointment_id != timer.appointment_id:
                    return
                if current.status != "booked":
                    return
                try:
                    self.appointment = await self._system_step(
                        JourneyActivities.change_appointment_status,
                        StatusStep(current.appointment_id, "missed", SYSTEM),
                    )
                except ActivityError:
                    return  # the records refused (it changed meanwhile): nothing was missed
                self._announce(
                    "missed", f"a{current.appointment_id}", self.appointment, dose_number=current.dose_number
                )
                self._changed()
        elif timer.event in (DOSE_DUE, OVERDUE) and timer.dose_number is not None:
            template = "dose2_due" if timer.event == DOSE_DUE else "dose2_overdue"
            window = next_dose_window(
                self._rule(), self.doses[-1].given_at, self.input.day_seconds, timer.dose_number
            )
            self._announce(
                template,
                timer.mark.split(":", 1)[1],
                None,
                dose_number=timer.dose_number,
                window_earliest=window.earliest,
                window_latest=window.recommended_latest,
                location_id=self.doses[-1].location_id,
            )

    async def _wait_for_next_series(self) -> bool:
        """A series its schedule follows with a booster sleeps until that is due, announces it (with a
        booking link), then ends. True: the loop decides again (announced, or the series changed)."""
        rule = self.rule
        if rule is None or rule.next_after_days <= 0 or not self.doses:
            return False
        last = self.doses[-1]
        mark = f"{BOOSTER_DUE}:d{last.dose_id}.{self.removals}"
        # No patch needed: a rule from before schedules has no next_after_days, so a history recorded
        # then never comes here.
        if mark in self.done:
            return False
        due_at = last.given_at + timedelta(seconds=rule.next_after_days * self.input.day_seconds)
        delay = (due_at - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(
                    self._woken_after(self.version), timeout=delay, timeout_summary=BOOSTER_DUE
                )
                return True
            except TimeoutError:
                pass
        self.done.add(mark)
        self._announce(
            BOOSTER_DUE,
            mark.split(":", 1)[1],
            None,
            dose_number=rule.first_dose_number + len(self.doses),
            window_earliest=due_at,
            location_id=last.location_id,
        )
        return True

    # ---- appointments

    @workflow.update
    async def book(self, request: BookRequest) -> AppointmentFact:
        async with self.lock:
            rule, number = self._check_book(request)
            fact = await self._step(
                JourneyActivities.book_appointment,
                BookStep(
                    journey_id=self.input.journey_id,
                    recipient_id=self.input.recipient_id,
                    series_no=self.input.series_no,
                    rule=rule,
                    slot=request.slot,
                    dose_number=number,
                    idempotency_key=request.idempotency_key,
                    actor=request.actor,
                    hold_id=request.hold_id,
                ),
            )
            self.rule = rule
            self.appointment = fact
            self._announce("appointment_confirmed", f"a{fact.appointment_id}", fact, invite="REQUEST")
            self._changed()
            return fact

    @book.validator
    def _validate_book(self, request: BookRequest) -> None:
        _in_time(request.answer_by)
        self._check_book(request)

    @workflow.update
    async def reschedule(self, request: RescheduleRequest) -> AppointmentFact:
        async with self.lock:
            self._check_reschedule(request)
            left = self._current_appointment(request.appointment_id).slot_id
            fact = await self._step(
                JourneyActivities.reschedule_appointment,
                RescheduleStep(request.appointment_id, request.slot, request.actor),
            )
            self._seat_opened(left)
            self.appointment = fact
            self._announce(
                "rescheduled", f"a{fact.appointment_id}.{fact.invite_sequence}", fact, invite="REQUEST"
            )
            self._changed()
            return fact

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        _in_time(request.answer_by)
        self._check_reschedule(request)

    @workflow.update
    async def cancel(self, request: AppointmentRequest) -> AppointmentFact:
        return await self._move_appointment(request, "cancelled")

    @cancel.validator
    def _validate_cancel(self, request: AppointmentRequest) -> None:
        _in_time(request.answer_by)
        self._check_move(request, "cancelled")

    @workflow.update
    async def check_in(self, request: AppointmentRequest) -> AppointmentFact:
        return await self._move_appointment(request, "checked_in")

    @check_in.validator
    def _validate_check_in(self, request: AppointmentRequest) -> None:
        _in_time(request.answer_by)
        self._check_move(request, "checked_in")

    @workflow.update
    async def no_show(self, request: AppointmentRequest) -> AppointmentFact:
        return await self._move_appointment(request, "missed")

    @no_show.validator
    def _validate_no_show(self, request: AppointmentRequest) -> None:
        _in_time(request.answer_by)
        self._check_move(request, "missed")

    async def _move_appointment(self, request: AppointmentRequest, to_status: str) -> AppointmentFact:
        async with self.lock:
            self._check_move(request, to_status)
            fact = await self._step(
                JourneyActivities.change_appointment_status,
                StatusStep(request.appointment_id, to_status, request.actor, request.reason),
            )
            self.appointment = fact
            # Both offer a link to book the same dose again.
            if to_status == "cancelled":
                self._seat_opened(fact.slot_id)
                self._announce(
                    "cancelled",
                    f"a{fact.appointment_id}",
                    fact,
                    invite="CANCEL",
                    dose_number=fact.dose_number,
                )
            elif to_status == "missed":
                self._announce("missed", f"a{fact.appointment_id}", fact, dose_number=fact.dose_number)
            self._changed()
            return fact

    # ---- doses

    @workflow.update
    async def document_dose(self, request: DocumentRequest) -> DocumentOutcome:
        async with self.lock:
            rule, number, warning = self._check_document(request)
            appointment = self.appointment
            fulfils = (
                appointment.appointment_id
                if appointment is not None and appointment.active and appointment.dose_number == number
                else None
            )
            result: DocumentResult = await self._step(
                JourneyActivities.document_dose,
                DocumentStep(
                    journey_id=self.input.journey_id,
                    recipient_id=self.input.recipient_id,
                    series_no=self.input.series_no,
                    rule=rule,
                    dose_number=number,
                    location_id=request.location_id,
                    lot_number=request.lot_number,
                    expires_on=request.expires_on,
                    injection_site=request.injection_site,
                    route=request.route,
                    administered_by=request.administered_by,
                    given_at=request.given_at,
                    warning=warning,
                    idempotency_key=request.idempotency_key,
                    actor=request.actor,
                    completes_series=number >= rule.doses,
                    appointment_id=fulfils,
                ),
            )
            self.rule = rule
            self.doses.append(result.dose)
            if result.appointment is not None:
                self.appointment = result.appointment
            if self.complete:
                self._announce(
                    "series_complete", f"d{result.dose.dose_id}", None, location_id=request.location_id
                )
            self._changed()
            return DocumentOutcome(
                dose=result.dose, warning=result.dose.warning, series_complete=self.complete
            )

    @document_dose.validator
    def _validate_document(self, request: DocumentRequest) -> None:
        _in_time(request.answer_by)
        self._check_document(request)

    @workflow.update
    async def edit_dose(self, request: EditDoseRequest) -> DoseFact:
        async with self.lock:
            index = self._check_edit(request)
            fact = await self._step(
                JourneyActivities.edit_dose,
                EditStep(request.dose_id, request.changes, request.reason, request.actor),
            )
            self.doses[index] = fact
            self._changed()
            return fact

    @edit_dose.validator
    def _validate_edit(self, request: EditDoseRequest) -> None:
        _in_time(request.answer_by)
        self._check_edit(request)

    @workflow.update
    async def remove_dose(self, request: RemoveDoseRequest) -> JourneyView:
        async with self.lock:
            self._check_remove(request)
            await self._step(
                JourneyActivities.remove_dose, RemoveStep(request.dose_id, request.reason, request.actor)
            )
            self.doses.pop()
            # The series steps back: the removed dose is due again, announced afresh.
            self.removals += 1
            self._changed()
            return self.view()

    @remove_dose.validator
    def _validate_remove(self, request: RemoveDoseRequest) -> None:
        _in_time(request.answer_by)
        self._check_remove(request)

    # ---- reading

    @workflow.query
    def view(self) -> JourneyView:
        return self.series_view(workflow.now())

    # ---- helpers

    def _idle(self) -> bool:
        appointment = self.appointment
        return not self.doses and not self.outbox and (appointment is None or not appointment.active)

    def _woken_after(self, seen: int):  # type: ignore[no-untyped-def]
        """The wake-up condition: the series changed since `seen`, or email or an opening is waiting."""
        return lambda: self.version != seen or bool(self.outbox) or bool(self.openings)

    def _seat_opened(self, slot_id: int) -> None:
        """A seat this series held is free again: the slot's waitlist is told (from the main loop)."""
        self.openings.append(SeatOpening(slot_id))

    def _changed(self) -> None:
        self.version += 1

    def _announce(
        self,
        template: str,
        occurrence: str,
        appointment: AppointmentFact | None,
        *,
        invite: str | None = None,
        **fields: object,
    ) -> None:
        """Queues one email; its key is natural (journey, event, occurrence) so it goes out once."""
        rule = self.rule
        step = ComposeStep(
            key=f"{self.input.journey_id}:{template}:{occurrence}",
            template=template,
            journey_id=self.input.journey_id,
            recipient_id=self.input.recipient_id,
            appointment=appointment,
            invite_method=invite,
            product_name=rule.name if rule else "",
        )
        self.outbox.append(replace(step, **fields))  # type: ignore[arg-type]

    async def _deliver_announcements(self) -> None:
        while self.openings:
            await workflow.execute_activity_method(
                WaitlistActivities.announce_opening,
                self.openings[0],
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=SYSTEM_RETRY,
            )
            self.openings.pop(0)
        while self.outbox:
            step = self.outbox.pop(0)
            # One activity composes, records and sends.
            await workflow.execute_activity_method(
                JourneyActivities.send_email,
                step,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=EMAIL_RETRY,
            )

    async def _step(self, activity: Callable[[Any, _Step], Awaitable[_Result]], step: _Step) -> _Result:
        """One database step for a waiting person; a refusal fails the update with its message."""
        try:
            return await workflow.execute_local_activity_method(
                activity, step, start_to_close_timeout=timedelta(seconds=30), retry_policy=STEP_RETRY
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == REFUSED:
                raise ApplicationError(
                    cause.message, *cause.details, type=REFUSED, non_retryable=True
                ) from None
            raise

    async def _system_step(
        self, activity: Callable[[Any, _Step], Awaitable[_Result]], step: _Step
    ) -> _Result:
        return await workflow.execute_local_activity_method(
            activity, step, start_to_close_timeout=timedelta(seconds=30), retry_policy=SYSTEM_RETRY
        )
