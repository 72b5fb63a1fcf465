"""The journey's I/O: every database step of a dose series, and composing its email.

Each step is one transaction and idempotent: a booking or a dose carries the
client's idempotency key (unique per journey), seat changes are conditional
UPDATEs, and status changes only move from the expected status. A retried
activity therefore finds its own earlier work instead of repeating it.

A business refusal (slot full, appointment no longer booked) is a
non-retryable ``ApplicationError`` of type ``JourneyRefused`` whose first
detail is ``{"code", "status", ...}``; the API turns it into that HTTP status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from domain.dose_rules import ProductRule
from domain.email import CalendarInvite, EmailRequest, EmailResult
from domain.journey_messages import (
    BOOSTER_DUE,
    LINK_APPOINTMENT,
    LINK_BOOK,
    LINK_RECORD,
    AppointmentFact,
    BookStep,
    ComposeStep,
    DocumentResult,
    DocumentStep,
    DoseFact,
    EditStep,
    JourneyStatus,
    RemoveStep,
    RescheduleStep,
    StatusStep,
)
from domain.refusals import refused
from domain.scheduling import ACTIVE_STATUSES, AppointmentStatus, cannot_move_message, may_move
from domain.security import sign_link
from domain.settings import Settings
from records.audit import audit, diff
from records.db import transaction, utcnow
from records.holds import take_held_seat
from records.inventory import OutOfStock, move_for_dose, return_for_dose, take_for_dose
from records.journeys import Dose, Journey
from records.locations import Location
from records.recipients import Recipient
from records.schedules import next_series_dose, rule_as_json
from records.scheduling import Appointment, Slot, claim_seat, release_seat

# --------------------------------------------------------------------------- facts


# --------------------------------------------------------------------------- steps


# --------------------------------------------------------------------------- activities


class JourneyActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.email = EmailActivities(settings, sessions)

    # ---- appointments

    @activity.defn
    async def book_appointment(self, step: BookStep) -> AppointmentFact:
        try:
            async with transaction(self.sessions) as db:
                existing = await self._appointment_by_key(db, step.journey_id, step.idempotency_key)
                if existing is not None:
                    return AppointmentFact.of(existing)
                await self._ensure_journey(db, step.journey_id, step.recipient_id, step.series_no, step.rule)
                row = Appointment(
                    journey_id=step.journey_id,
                    recipient_id=step.recipient_id,
                    location_id=step.slot.location_id,
                    slot_id=step.slot.slot_id,
                    start_at=step.slot.start_at,
                    end_at=step.slot.end_at,
                    product_code=step.slot.product_code,
                    dose_number=step.dose_number,
                    idempotency_key=step.idempotency_key,
                    booked_by=step.actor,
                )
                db.add(row)
                await db.flush()
                audit(
                    db,
                    actor=step.actor,
                    location_id=row.location_id,
                    entity="appointment",
                    entity_id=row.id,
                    action="book",
                    changes={"slot_id": [None, row.slot_id], "dose_number": [None, row.dose_number]},
                )
                await db.flush()
                # The seat is claimed last: the claim locks the slot's row (PostgreSQL) until the
                # commit, so every other booking of the slot waits for this UPDATE and the COMMIT
                # only. No seat: the refusal rolls the appointment and the audit row back.
                # The seat held for this person if the hold is still live, else any free seat.
                held = step.hold_id is not None and await take_held_seat(db, step.hold_id, step.slot.slot_id)
                if not held and not await claim_seat(db, step.slot.slot_id):
                    raise await self._no_seat(db, step.slot.slot_id)
                return AppointmentFact.of(row)
        except IntegrityError:
            # A concurrent attempt with the same key won (PostgreSQL); hand back its row.
            async with transaction(self.sessions) as db:
                existing = await self._appointment_by_key(db, step.journey_id, step.idempotency_key)
                if existing is None:
                    raise
                return AppointmentFact.of(existing)

    @activity.defn
    async def reschedule_appointment(self, step: RescheduleStep) -> AppointmentFact:
        async with transaction(self.sessions) as db:
            row = await self._appointment(db, step.appointment_id)
            if row.slot_id == step.slot.slot_id:
                return AppointmentFact.of(row)  # already moved (a retry)
            if row.status != AppointmentStatus.booked:
                raise refused("appointment_not_booked", f"This appointment is {row.status}; it cannot move.")
            if not await claim_seat(db, step.slot.slot_id):
                raise await self._no_seat(db, step.slot.slot_id)
            await release_seat(db, row.slot_id)
            before = {"slot_id": row.slot_id, "start_at": row.start_at}
            row.slot_id = step.slot.slot_id
            row.location_id = step.slot.location_id
            row.start_at = step.slot.start_at
            row.end_at = step.slot.end_at
            row.invite_sequence += 1
            audit(
                db,
                actor=step.actor,
                location_id=row.location_id,
                entity="appointment",
                entity_id=row.id,
                action="reschedule",
                changes=diff(before, {"slot_id": row.slot_id, "start_at": row.start_at}),
            )
            return AppointmentFact.of(row)

    @activity.defn
    async def change_appointment_status(self, step: StatusStep) -> AppointmentFact:
        async with transaction(self.sessions) as db:
            row = await self._appointment(db, step.appointment_id)
            if row.status == step.to_status:
                return AppointmentFact.of(row)  # a retry
            if not may_move(row.status, step.to_status):
                raise refused("appointment_status", cannot_move_message(row.status, step.to_status))
            before = row.status
            # Conditional on the status we read, so two writers cannot both move it.
            moved = await db.execute(
                update(Appointment)
                .where(Appointment.id == row.id, Appointment.status == before)
                .values(
                    status=step.to_status,
                    cancel_reason=step.reason if step.to_status == AppointmentStatus.cancelled else None,
                    checked_in_at=utcnow() if step.to_status == AppointmentStatus.checked_in else None,
                    invite_sequence=Appointment.invite_sequence
                    + (1 if step.to_status == AppointmentStatus.cancelled else 0),
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                raise refused("appointment_status", "This appointment changed meanwhile; try again.")
            if step.to_status == AppointmentStatus.cancelled:
                await release_seat(db, row.slot_id)
            audit(
                db,
                actor=step.actor,
                location_id=row.location_id,
                entity="appointment",
                entity_id=row.id,
                action=step.to_status,
                changes={"status": [before, step.to_status]},
                reason=step.reason,
            )
            await db.refresh(row)
            return AppointmentFact.of(row)

    # ---- doses

    @activity.defn
    async def document_dose(self, step: DocumentStep) -> DocumentResult:
        async with transaction(self.sessions) as db:
            existing = (
                await db.execute(
                    select(Dose).where(
                        Dose.journey_id == step.journey_id, Dose.idempotency_key == step.idempotency_key
                    )
                )
            ).scalar_one_or_none()
            if existing is not None:
                appointment = (
                    await db.get(Appointment, existing.appointment_id) if existing.appointment_id else None
                )
                return DocumentResult(
                    DoseFact.of(existing), AppointmentFact.of(appointment) if appointment else None
                )
            journey = await self._ensure_journey(
                db, step.journey_id, step.recipient_id, step.series_no, step.rule
            )
            dose = Dose(
                journey_id=step.journey_id,
                recipient_id=step.recipient_id,
                location_id=step.location_id,
                appointment_id=step.appointment_id,
                dose_number=step.dose_number,
                product_code=step.rule.code,
                product_version=step.rule.version,
                lot_number=step.lot_number,
                expires_on=step.expires_on,
                injection_site=step.injection_site,
                route=step.route,
                administered_by=step.administered_by,
                given_at=step.given_at,
                warning=step.warning,
                schedule_code=step.rule.schedule_code or None,
                schedule_version=step.rule.schedule_version or None,
                series_kind=step.rule.series_kind if step.rule.schedule_code else None,
                family_dose_number=step.rule.first_dose_number + step.dose_number - 1,
                documented_by=step.actor,
                idempotency_key=step.idempotency_key,
            )
            db.add(dose)
            await db.flush()
            # In the dose's own transaction: no dose without its unit of stock, and no lot below zero.
            async with _stock_refusals():
                await take_for_dose(
                    db,
                    dose_id=dose.id,
                    location_id=step.location_id,
                    lot_number=step.lot_number,
                    actor=step.actor,
                )
            audit(
                db,
                actor=step.actor,
                location_id=step.location_id,
                entity="dose",
                entity_id=dose.id,
                action="document",
                changes=diff({}, _dose_snapshot(dose)),
                reason=step.warning,
            )
            appointment = None
            if step.appointment_id is not None:
                appointment = await db.get(Appointment, step.appointment_id)
                if appointment is not None and appointment.status in ACTIVE_STATUSES:
                    appointment.status = AppointmentStatus.completed.value
            if step.completes_series:
                journey.status = JourneyStatus.complete.value
                journey.completed_at = utcnow()
            await db.flush()
            return DocumentResult(DoseFact.of(dose), AppointmentFact.of(appointment) if appointment else None)

    @activity.defn
    async def edit_dose(self, step: EditStep) -> DoseFact:
        async with transaction(self.sessions) as db:
            dose = await self._dose(db, step.dose_id)
            before = _dose_snapshot(dose)
            new_lot = step.changes.lot_number
            if new_lot is not None and new_lot != dose.lot_number and not dose.removed:
                async with _stock_refusals():
                    await move_for_dose(
                        db,
                        dose_id=dose.id,
                        location_id=dose.location_id,
                        lot_number=new_lot,
                        actor=step.actor,
                        reason=step.reason,
                    )
            for name, value in step.changes.as_dict().items():
                setattr(dose, name, value)
            changes = diff(before, _dose_snapshot(dose))
            if changes:
                audit(
                    db,
                    actor=step.actor,
                    location_id=dose.location_id,
                    entity="dose",
                    entity_id=dose.id,
                    action="edit",
                    changes=changes,
                    reason=step.reason,
                )
            return DoseFact.of(dose)

    @activity.defn
    async def remove_dose(self, step: RemoveStep) -> DoseFact:
        async with transaction(self.sessions) as db:
            dose = await self._dose(db, step.dose_id)
            if not dose.removed:
                dose.removed = True
                dose.removed_reason = step.reason
                dose.removed_at = utcnow()
                await return_for_dose(db, dose_id=dose.id, actor=step.actor, reason=step.reason)
                audit(
                    db,
                    actor=step.actor,
                    location_id=dose.location_id,
                    entity="dose",
                    entity_id=dose.id,
                    action="remove",
                    changes={"removed": [False, True]},
                    reason=step.reason,
                )
                journey = await db.get(Journey, dose.journey_id)
                if journey is not None:
                    journey.status = JourneyStatus.active.value
                    journey.completed_at = None
            return DoseFact.of(dose)

    # ---- email

    @activity.defn
    async def send_email(self, step: ComposeStep) -> EmailResult | None:
        """Composes, records and sends one journey event's email: one activity and one write
        before the send, so a reminder costs no round trip it does not need. Idempotent on the
        step's key (a retry finds the outbox row); None when the recipient has no email."""

        async def compose(db: AsyncSession) -> EmailRequest | None:
            return await self._compose(db, step)

        return await self.email.record_and_send(compose, record_first=False)

    async def _compose(self, db: AsyncSession, step: ComposeStep) -> EmailRequest | None:
        """The message for one journey event, with signed links; None when the recipient has no email."""
        location_id = step.appointment.location_id if step.appointment else step.location_id
        # The recipient and the location in one round trip.
        found = (
            await db.execute(
                select(Recipient, Location)
                .outerjoin(Location, Location.id == location_id)
                .where(Recipient.id == step.recipient_id)
            )
        ).first()
        if found is None or not found[0].email:
            return None
        recipient, location = found[0], (found[1] if location_id else None)
        language = recipient.preferred_language if recipient.preferred_language in INVITE_TEXT else "en"
        base = self.settings.public_base_url.rstrip("/")
        secret = self.settings.secret_key
        context: dict[str, Any] = {
            "name": recipient.first_name,
            "full_name": recipient.full_name,
            "journey_id": step.journey_id,
            "product_name": step.product_name,
            "dose_number": step.dose_number,
            "time_zone": location.time_zone if location else "UTC",
            "location_name": location.name if location else "",
            "location_address": location.address if location else "",
            "location_phone": location.phone if location else "",
            "record_url": f"{base}/r/record/"
            + sign_link(secret, LINK_RECORD, {"r": recipient.id, "j": step.journey_id}),
            **step.extra,
        }
        if step.window_earliest is not None:
            context["window_earliest"] = step.window_earliest.isoformat()
        if step.window_latest is not None:
            context["window_latest"] = step.window_latest.isoformat()
        link: dict[str, Any] = {"j": step.journey_id, "n": step.dose_number, "t": step.key}
        if step.template == BOOSTER_DUE:
            next_dose = await next_series_dose(db, step.journey_id)
            if next_dose is None:
                return None  # booked or given meanwhile, or the schedule no longer offers one
            context.update(next_dose)
            link["next"] = 1  # books the family's next series, not this (complete) one
        if step.dose_number is not None:
            # "t": the link's own id (the email's natural key), recorded when it books: single use.
            context["book_url"] = f"{base}/r/book/" + sign_link(secret, LINK_BOOK, link)
        invite = None
        appointment = step.appointment
        if appointment is not None:
            appointment_url = f"{base}/r/appointments/" + sign_link(
                secret, LINK_APPOINTMENT, {"a": appointment.appointment_id, "j": step.journey_id}
            )
            context.update(
                appointment_id=appointment.appointment_id,
                appointment_url=appointment_url,
                start_at=appointment.start_at.isoformat(),
                end_at=appointment.end_at.isoformat(),
                dose_number=appointment.dose_number,
            )
            if step.invite_method:
                summary, description = INVITE_TEXT[language]
                invite = CalendarInvite(
                    uid=f"appointment-{appointment.appointment_id}@cvms",
                    sequence=appointment.invite_sequence,
                    method=step.invite_method,
                    start=appointment.start_at.isoformat(),
                    end=appointment.end_at.isoformat(),
                    summary=summary.format(n=appointment.dose_number),
                    location=", ".join(
                        p for p in (context["location_name"], context["location_address"]) if p
                    ),
                    description=description.format(url=appointment_url),
                    organizer_email=parseaddr(self.settings.mail_from)[1],
                    attendee_email=recipient.email,
                    made_at=utcnow().isoformat(),
                )
        return EmailRequest(
            key=step.key,
            to=recipient.email,
            language=language,
            template=step.template,
            context=context,
            invite=invite,
        )

    # ---- helpers

    async def _ensure_journey(
        self, db: AsyncSession, journey_id: str, recipient_id: int, series_no: int, rule: ProductRule
    ) -> Journey:
        journey = await db.get(Journey, journey_id)
        if journey is None:
            journey = Journey(id=journey_id, recipient_id=recipient_id, series_no=series_no)
            db.add(journey)
        journey.product_code = rule.code
        journey.product_version = rule.version
        if rule.schedule_code:
            journey.family = rule.family
            journey.series_rule = rule_as_json(rule)
        await db.flush()
        return journey

    async def _appointment_by_key(self, db: AsyncSession, journey_id: str, key: str) -> Appointment | None:
        return (
            await db.execute(
                select(Appointment).where(
                    Appointment.journey_id == journey_id, Appointment.idempotency_key == key
                )
            )
        ).scalar_one_or_none()

    async def _appointment(self, db: AsyncSession, appointment_id: int) -> Appointment:
        row = await db.get(Appointment, appointment_id)
        if row is None:
            raise refused("not_found", "No such appointment.", kind="not_found")
        return row

    async def _dose(self, db: AsyncSession, dose_id: int) -> Dose:
        row = await db.get(Dose, dose_id)
        if row is None:
            raise refused("not_found", "No such dose.", kind="not_found")
        return row

    async def _no_seat(self, db: AsyncSession, slot_id: int) -> ApplicationError:
        slot = await db.get(Slot, slot_id)
        if slot is None:
            return refused("not_found", "No such slot.", kind="not_found")
        if not slot.is_open:
            return refused("slot_closed", "This slot is closed to bookings.")
        return refused("slot_full", "This slot is full; choose another.", slot_id=slot_id)


@asynccontextmanager
async def _stock_refusals() -> AsyncIterator[None]:
    """An empty lot is the person's refusal (409), not a failure to retry."""
    try:
        yield
    except OutOfStock as empty:
        raise refused("lot_empty", str(empty), lot_number=empty.lot_number, on_hand=empty.on_hand) from None
    except LookupError as unknown:
        raise refused("unknown_lot", str(unknown), kind="invalid") from None


def _dose_snapshot(dose: Dose) -> dict[str, Any]:
    return {
        "dose_number": dose.dose_number,
        "product_code": dose.product_code,
        "lot_number": dose.lot_number,
        "expires_on": dose.expires_on,
        "injection_site": dose.injection_site,
        "route": dose.route,
        "administered_by": dose.administered_by,
        "given_at": dose.given_at,
        "location_id": dose.location_id,
    }


INVITE_TEXT = {
    "en": ("Vaccination appointment, dose {n}", "Bring an ID. Manage your appointment: {url}"),
    "es": ("Cita de vacunación, dosis {n}", "Traiga una identificación. Administre su cita: {url}"),
}
