"""The waitlist of a location and product (`waitlist-<location>-<product>`), and seat holds.

WaitlistWorkflow: whenever it is asked to look again (a seat opened, someone
joined), it offers every free seat to the next waiting person (one database
step that reads the records, so a repeated signal never offers a seat twice),
emails each new offer once (natural key per offer), and sleeps until the
soonest offer runs out or it is asked again. An offer that runs out is
settled (its seat released, the person told) and the seat goes to the next
person. It runs as long as the waitlist exists, continuing as new when its
history grows; its state is in the records, so a new run picks up the
pending offers.

SeatHoldWorkflow (`seat-hold-<id>`): one durable timer per registration hold;
when it fires (or the hold is released early) the seat is given back and
the waitlist told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities
    from activities.waitlist import WaitlistActivities
    from domain.scheduling import (
        HoldEnd,
        OfferEmail,
        OfferFact,
        Review,
        SeatHoldInput,
        SeatOpening,
        WaitlistInput,
    )

SYSTEM_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
STEP_TIMEOUT = timedelta(seconds=30)


@workflow.defn
class WaitlistWorkflow:
    @workflow.init
    def __init__(self, input: WaitlistInput) -> None:
        self.input = input
        self.review_due = True  # a new run first reads what the records hold
        self.pending: dict[int, OfferFact] = {}

    @workflow.signal
    def review(self, review: Review) -> None:
        self.review_due = True

    @workflow.query
    def pending_offers(self) -> list[OfferFact]:
        return sorted(self.pending.values(), key=lambda o: o.offer_id)

    @workflow.run
    async def run(self, input: WaitlistInput) -> None:
        while True:
            if self.review_due:
                self.review_due = False
                offers: list[OfferFact] = await workflow.execute_activity_method(
                    WaitlistActivities.offer_open_seats,
                    self.input,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=SYSTEM_RETRY,
                )
                known = self.pending
                self.pending = {offer.offer_id: offer for offer in offers}
                for offer in offers:
                    if offer.offer_id not in known:
                        await self._email(offer.offer_id, "waitlist_offer")
                continue
            if not self.pending and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.input)
            soonest = min((o.expires_at for o in self.pending.values()), default=None)
            if soonest is None:
                await workflow.wait_condition(lambda: self.review_due)
                continue
            delay = (soonest - workflow.now()).total_seconds()
            if delay > 0:
                try:
                    await workflow.wait_condition(
                        lambda: self.review_due, timeout=delay, timeout_summary="offer runs out"
                    )
                    continue
                except TimeoutError:
                    pass
            await self._settle_expired(workflow.now())

    async def _settle_expired(self, now: datetime) -> None:
        for offer in sorted(self.pending.values(), key=lambda o: o.offer_id):
            if offer.expires_at > now:
                continue
            settled: OfferFact = await workflow.execute_activity_method(
                WaitlistActivities.settle_offer,
                offer.offer_id,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=SYSTEM_RETRY,
            )
            self.pending.pop(offer.offer_id, None)
            if settled.status == "expired":
                await self._email(offer.offer_id, "waitlist_lapsed")
        self.review_due = True  # the released seats go to the next people

    async def _email(self, offer_id: int, template: str) -> None:
        request = await workflow.execute_activity_method(
            WaitlistActivities.compose_offer_email,
            OfferEmail(offer_id, template),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=SYSTEM_RETRY,
        )
        if request is not None:
            await workflow.execute_activity_method(
                EmailActivities.deliver_email,
                request,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=SYSTEM_RETRY,
            )


@workflow.defn
class SeatHoldWorkflow:
    @workflow.init
    def __init__(self, input: SeatHoldInput) -> None:
        self.release_requested = False

    @workflow.signal
    def release(self) -> None:
        """Give the seat back now (the person left, or staff released it)."""
        self.release_requested = True

    @workflow.run
    async def run(self, input: SeatHoldInput) -> bool:
        delay = (input.expires_at - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(
                    lambda: self.release_requested, timeout=delay, timeout_summary="hold runs out"
                )
            except TimeoutError:
                pass
        opening: SeatOpening | None = await workflow.execute_activity_method(
            WaitlistActivities.end_seat_hold,
            HoldEnd(input.hold_id),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=SYSTEM_RETRY,
        )
        if opening is None:
            return False  # booked (or already released): nothing to give back
        await workflow.execute_activity_method(
            WaitlistActivities.announce_opening,
            opening,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=SYSTEM_RETRY,
        )
        return True
