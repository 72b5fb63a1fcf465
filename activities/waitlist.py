"""The waitlist's and the seat hold's I/O: offering free seats, settling offers, releasing holds.

Every step is one transaction and idempotent. An offer is a row unique per
(entry, slot) plus a seat hold; it ends exactly once, because its hold ends
exactly once (records/holds.py): booked by the person, or released when the
time is up. Reconciling (`offer_open_seats`) reads the database, so a repeated
or late signal never makes a second offer of the same seat.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from domain.dose_rules import to_local
from domain.email import EmailRequest
from domain.scheduling import (
    ACTIVE_ENTRY,
    ACTIVE_STATUSES,
    LINK_WAITLIST_OFFER,
    REVIEW_SIGNAL,
    WAITLIST_WORKFLOW,
    EntryStatus,
    HoldEnd,
    HoldPurpose,
    HoldStatus,
    OfferEmail,
    OfferFact,
    OfferStatus,
    Review,
    SeatOpening,
    WaitlistInput,
    offer_link_id,
    waitlist_workflow_id,
)
from domain.security import sign_link
from domain.settings import Settings
from records.db import transaction, utcnow
from records.holds import SeatHold, hold_seat, release_hold
from records.locations import Location
from records.products import current_product
from records.recipients import Recipient
from records.scheduling import Appointment, Slot
from records.waitlist import WaitlistEntry, WaitlistOffer


async def review_waitlist(
    client: Client, settings: Settings, location_id: int, product_code: str, review: Review
) -> None:
    """Signals the location's waitlist for the product, starting its workflow if needed."""
    await client.start_workflow(
        WAITLIST_WORKFLOW,
        WaitlistInput(location_id, product_code, settings.waitlist_offer_hold_seconds),
        id=waitlist_workflow_id(location_id, product_code),
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=REVIEW_SIGNAL,
        start_signal_args=[review],
    )


class WaitlistActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    @activity.defn
    async def announce_opening(self, opening: SeatOpening) -> bool:
        """A seat of this slot came free: the waitlist of its location and product looks again
        (only when someone is waiting there, so slots without a waitlist start nothing)."""
        async with transaction(self.sessions) as db:
            slot = await db.get(Slot, opening.slot_id)
            if slot is None:
                return False
            waiting = (
                await db.execute(
                    select(
                        exists().where(
                            WaitlistEntry.location_id == slot.location_id,
                            WaitlistEntry.product_code == slot.product_code,
                            WaitlistEntry.status.in_(ACTIVE_ENTRY),
                        )
                    )
                )
            ).scalar_one()
            location_id, product_code = slot.location_id, slot.product_code
        if not waiting:
            return False
        await review_waitlist(
            activity.client(),
            self.settings,
            location_id,
            product_code,
            Review("seat opened", opening.slot_id),
        )
        return True

    @activity.defn
    async def offer_open_seats(self, scope: WaitlistInput) -> list[OfferFact]:
        """Offers every free seat of the scope's coming slots to the next waiting person whose dates
        fit (first come, first served; never the same slot twice to one person); returns every
        offer still pending in the scope."""
        async with transaction(self.sessions) as db:
            location = await db.get(Location, scope.location_id)
            if location is None or not location.scheduling_enabled:
                return []
            slots = (
                await db.execute(
                    select(Slot)
                    .where(
                        Slot.location_id == scope.location_id,
                        Slot.product_code == scope.product_code,
                        Slot.is_open.is_(True),
                        Slot.start_at > utcnow(),
                        Slot.booked + Slot.held < Slot.capacity,
                    )
                    .order_by(Slot.start_at, Slot.id)
                )
            ).scalars()
            for slot in list(slots):
                await self._offer_seats_of(db, scope, location, slot)
            return await self._pending(db, scope)

    async def _offer_seats_of(
        self, db: AsyncSession, scope: WaitlistInput, location: Location, slot: Slot
    ) -> None:
        day = to_local(slot.start_at, location.time_zone).date()
        while True:
            entry = (
                await db.execute(
                    select(WaitlistEntry)
                    .where(
                        WaitlistEntry.location_id == scope.location_id,
                        WaitlistEntry.product_code == scope.product_code,
                        WaitlistEntry.status == EntryStatus.waiting.value,
                        WaitlistEntry.earliest_date <= day,
                        WaitlistEntry.latest_date >= day,
                        ~exists().where(
                            WaitlistOffer.entry_id == WaitlistEntry.id, WaitlistOffer.slot_id == slot.id
                        ),
                        # Someone booked meanwhile (by staff, or through a link) keeps their place
                        # but is not offered a second seat while that appointment stands.
                        ~exists().where(
                            Appointment.recipient_id == WaitlistEntry.recipient_id,
                            Appointment.status.in_(ACTIVE_STATUSES),
                        ),
                    )
                    .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if entry is None:
                return
            expires_at = utcnow() + timedelta(seconds=scope.offer_hold_seconds)
            hold = await hold_seat(
                db,
                slot,
                purpose=HoldPurpose.waitlist_offer,
                expires_at=expires_at,
                held_by=f"waitlist-entry:{entry.id}",
            )
            if hold is None:
                return  # the slot is full now
            db.add(WaitlistOffer(entry_id=entry.id, slot_id=slot.id, hold_id=hold.id, expires_at=expires_at))
            entry.status = EntryStatus.offered.value
            await db.flush()

    async def _pending(self, db: AsyncSession, scope: WaitlistInput) -> list[OfferFact]:
        rows = await db.execute(
            select(WaitlistOffer, WaitlistEntry)
            .join(WaitlistEntry, WaitlistEntry.id == WaitlistOffer.entry_id)
            .where(
                WaitlistEntry.location_id == scope.location_id,
                WaitlistEntry.product_code == scope.product_code,
                WaitlistOffer.status == OfferStatus.pending.value,
            )
            .order_by(WaitlistOffer.id)
        )
        return [_fact(offer, entry) for offer, entry in rows.all()]

    @activity.defn
    async def settle_offer(self, offer_id: int) -> OfferFact:
        """An offer whose time is up: accepted if its seat was booked, otherwise expired (the seat is
        released and the person leaves the list)."""
        async with transaction(self.sessions) as db:
            offer = await db.get(WaitlistOffer, offer_id)
            assert offer is not None, f"waitlist offer {offer_id} vanished"
            entry = await db.get(WaitlistEntry, offer.entry_id)
            assert entry is not None
            if offer.status != OfferStatus.pending.value:
                return _fact(offer, entry)  # a retry, or settled by the acceptance
            await release_hold(db, offer.hold_id)
            hold = await db.get(SeatHold, offer.hold_id)
            await db.refresh(hold)
            accepted = hold is not None and hold.status == HoldStatus.booked.value
            settled = await db.execute(
                update(WaitlistOffer)
                .where(WaitlistOffer.id == offer.id, WaitlistOffer.status == OfferStatus.pending.value)
                .values(
                    status=OfferStatus.accepted.value if accepted else OfferStatus.expired.value,
                    settled_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if settled.rowcount == 1 and entry.status == EntryStatus.offered.value:
                entry.status = EntryStatus.booked.value if accepted else EntryStatus.lapsed.value
            await db.refresh(offer)
            return _fact(offer, entry)

    @activity.defn
    async def compose_offer_email(self, request: OfferEmail) -> EmailRequest | None:
        async with transaction(self.sessions) as db:
            offer = await db.get(WaitlistOffer, request.offer_id)
            assert offer is not None
            entry = await db.get(WaitlistEntry, offer.entry_id)
            assert entry is not None
            recipient = await db.get(Recipient, entry.recipient_id)
            slot = await db.get(Slot, offer.slot_id)
            location = await db.get(Location, entry.location_id)
            product = await current_product(db, entry.product_code)
            if recipient is None or not recipient.email or slot is None or location is None:
                return None
            language = recipient.preferred_language if recipient.preferred_language in ("en", "es") else "en"
            base = self.settings.public_base_url.rstrip("/")
            token = sign_link(
                self.settings.secret_key,
                LINK_WAITLIST_OFFER,
                {"o": offer.id, "r": recipient.id, "t": offer_link_id(offer.id)},
            )
            return EmailRequest(
                key=f"waitlist-offer-{offer.id}:{request.template}",
                to=recipient.email,
                language=language,
                template=request.template,
                context={
                    "name": recipient.first_name,
                    "product_name": product.name if product else entry.product_code,
                    "location_name": location.name,
                    "location_address": location.address,
                    "time_zone": location.time_zone,
                    "start_at": slot.start_at.isoformat(),
                    "expires_at": offer.expires_at.isoformat(),
                    "offer_url": f"{base}/r/waitlist-offers/{token}",
                },
            )

    # ---- seat holds for registration

    @activity.defn
    async def end_seat_hold(self, request: HoldEnd) -> SeatOpening | None:
        """Releases a hold that is still held; the freed seat (if any) for the waitlist."""
        async with transaction(self.sessions) as db:
            hold = await db.get(SeatHold, request.hold_id)
            if hold is None or not await release_hold(db, request.hold_id):
                return None
            return SeatOpening(hold.slot_id)


def _fact(offer: WaitlistOffer, entry: WaitlistEntry) -> OfferFact:
    return OfferFact(
        offer_id=offer.id,
        entry_id=entry.id,
        recipient_id=entry.recipient_id,
        slot_id=offer.slot_id,
        expires_at=offer.expires_at,
        status=offer.status,
    )
