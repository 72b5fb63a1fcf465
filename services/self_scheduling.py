"""Self-scheduling from the public finder (no login): a person picks a free time at a location
that allows it, the seat is held (the ordinary seat hold), they answer the screening questions and
register with the same fields and checks as staff registration, prove their email with a
single-use code, and dose 1 is booked in their series through the journey workflow.

Nothing here tells a stranger whether an email or a person is registered: every registration gets
the same answer ("we sent a code"), and an existing record is used only once its email is proven
(matched by name, date of birth and that email); it is never shown. Starting is rate-limited per
client address and per email (`limits`, counted in CVMS_LOGIN_THROTTLE_STORAGE).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.dose_rules import DoseWindow, RuleViolation, next_dose_window, to_local
from domain.eligibility import check_eligibility
from domain.journey_messages import AppointmentFact
from domain.recipients import RecipientCreate
from domain.refusals import Conflict, Forbidden, Gone, Invalid, NotFound, Throttled
from domain.scheduling import HoldStatus
from domain.security import LinkError, read_link, sign_link
from domain.settings import Settings
from records.audit import audit
from records.db import reading, transaction, utcnow
from records.eligibility import eligibility_rules
from records.holds import SeatHold
from records.locations import Location
from records.products import current_product
from records.recipients import Recipient, add_recipient, find_possible_duplicates
from records.scheduling import Slot
from records.self_registrations import BOOKED, PENDING, SelfRegistration, count_guess, spend_code
from services import waiting_room
from services.mail import queue_email
from services.scheduling import book_slot, require_scheduling
from services.seat_holds import place_hold
from services.self_waitlist import join_waitlist, waitlist_products
from services.temporal import TemporalGateway

ACTOR = "self-registration"
HOLD_LINK = "self-hold"
REGISTRATION_LINK = "self-registration"
DAYS_SHOWN = 14
CODE_DIGITS = 6


# --------------------------------------------------------------------------- rate limits


class SelfServiceLimits:
    """Per-address and per-email allowances of the public self-registration (moving windows)."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.login_throttle_storage
        storage = storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        assert isinstance(storage, Storage)
        self.gate = MovingWindowRateLimiter(storage)
        self.per_address: RateLimitItem = parse(settings.self_registration_per_address)
        self.per_email: RateLimitItem = parse(settings.self_registration_per_email)

    async def _take(self, item: RateLimitItem, *subject: str) -> None:
        if not await self.gate.hit(item, "cvms-self", *subject):
            stats = await self.gate.get_window_stats(item, "cvms-self", *subject)
            seconds = max(1, math.ceil(stats.reset_time - time.time()))
            raise Throttled(
                f"too many tries; try again in {seconds} seconds",
                code="rate_limited",
                retry_after_seconds=seconds,
            )

    async def address(self, client: str | None) -> None:
        await self._take(self.per_address, "address", client or "unknown")

    async def email(self, email_key: str) -> None:
        await self._take(self.per_email, "email", email_key)


# --------------------------------------------------------------------------- where and when


async def self_service_location(db: AsyncSession, code: str) -> Location:
    """A published location whose manager lets people book themselves; any other is not found."""
    location = (await db.execute(select(Location).where(Location.code == code))).scalar_one_or_none()
    if location is None or not (
        location.published and location.scheduling_enabled and location.self_scheduling
    ):
        raise NotFound("no such location takes bookings online")
    return location


async def open_times(db: AsyncSession, location: Location) -> list[Slot]:
    """The location's open slots with a free seat in the next days (any product: this is dose 1)."""
    now = utcnow()
    query = (
        select(Slot)
        .where(
            Slot.location_id == location.id,
            Slot.is_open.is_(True),
            Slot.booked + Slot.held < Slot.capacity,
            Slot.start_at > now,
            Slot.start_at < now + timedelta(days=DAYS_SHOWN),
        )
        .order_by(Slot.start_at, Slot.id)
        .limit(200)
    )
    return list((await db.execute(query)).scalars())


# --------------------------------------------------------------------------- the held seat


def hold_token(settings: Settings, hold: SeatHold) -> str:
    return sign_link(settings.secret_key, HOLD_LINK, {"h": hold.id})


def _read(settings: Settings, purpose: str, token: str, max_age: float) -> dict[str, Any]:
    try:
        return read_link(settings.secret_key, purpose, token, max_age)
    except LinkError as error:
        if error.expired:
            raise Gone("this page has expired; choose a time again", code="link_expired") from None
        raise Forbidden("this link is not valid", code="link_invalid") from None


async def hold_time(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    limits: SelfServiceLimits,
    location: Location,
    slot_id: int,
    client: str | None,
    admission: str | None = None,
) -> SeatHold:
    """Holds one seat of the chosen time for CVMS_SEAT_HOLD_SECONDS (409 when it is full). Behind a
    waiting room the admission is spent in the same transaction: a refused hold keeps it."""
    require_scheduling(location)
    slot = (
        await db.execute(select(Slot).where(Slot.id == slot_id, Slot.location_id == location.id))
    ).scalar_one_or_none()
    if slot is None:
        raise NotFound("no such time at this location")
    await limits.address(client)
    await waiting_room.spend(db, settings, location=location, token=admission)
    hold: SeatHold = await place_hold(
        db, temporal, settings, slot=slot, held_by=f"{ACTOR}:{secrets.token_hex(8)}"
    )
    return hold


@dataclass(frozen=True)
class HeldTime:
    hold: SeatHold
    slot: Slot
    location: Location
    product_name: str

    @property
    def live(self) -> bool:
        return self.hold.status == HoldStatus.held and self.hold.expires_at > utcnow()


async def held_time(db: AsyncSession, settings: Settings, token: str) -> HeldTime:
    payload = _read(
        settings, HOLD_LINK, token, settings.seat_hold_seconds + settings.self_registration_code_seconds
    )
    hold = await db.get(SeatHold, payload.get("h"))
    if hold is None or not hold.held_by.startswith(f"{ACTOR}:"):
        raise NotFound("no such seat hold")
    slot = await db.get(Slot, hold.slot_id)
    location = await db.get(Location, hold.location_id)
    assert slot is not None and location is not None
    product = await current_product(db, slot.product_code)
    return HeldTime(hold, slot, location, product.name if product else slot.product_code)


# --------------------------------------------------------------------------- register, verify


def _digest(settings: Settings, registration_id: int, code: str) -> str:
    message = f"{registration_id}:{code.strip()}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def registration_token(settings: Settings, registration_id: int) -> str:
    return sign_link(settings.secret_key, REGISTRATION_LINK, {"s": registration_id})


async def check_rules(
    db: AsyncSession, held: HeldTime, body: RecipientCreate, screening: dict[str, str]
) -> None:
    """The booking's eligibility rules, checked before a code is sent (the booking checks again)."""
    day = to_local(held.slot.start_at, held.location.time_zone).date()
    await _check_rules_on(db, held.slot.product_code, day, body, screening)


async def _check_rules_on(
    db: AsyncSession, product_code: str, day: date, body: RecipientCreate, screening: dict[str, str]
) -> None:
    rules = await eligibility_rules(db, product_code)
    try:
        check_eligibility(rules, body.date_of_birth, day, screening)
    except RuleViolation as violation:
        error = Conflict if violation.is_conflict else Invalid
        raise error(violation.message, code=violation.code, **violation.details) from None


async def register(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    limits: SelfServiceLimits,
    token: str,
    body: RecipientCreate,
    screening: dict[str, str],
    client: str | None,
) -> str:
    """Keeps the registration and emails a single-use code (and a link carrying it); the answer is
    the same whoever the email belongs to. Returns the token of the code page."""
    held = await held_time(db, settings, token)  # a hold that ran out still books if a seat is free
    if not body.email:
        raise Invalid(
            "enter your email: we send you a code", errors=[{"field": "email", "message": "required"}]
        )
    await check_rules(db, held, body, screening)
    await limits.address(client)
    row = await _registration(settings, limits, body, screening, held.location)
    row.hold_id, row.slot_id = held.hold.id, held.slot.id
    return await _send_code(db, settings, temporal, row, body, held.location)


async def _registration(
    settings: Settings,
    limits: SelfServiceLimits,
    body: RecipientCreate,
    screening: dict[str, str],
    location: Location,
) -> SelfRegistration:
    """A registration waiting for its code (what it books or joins is set by the caller), once
    the email's limit allows it."""
    assert body.email
    email_key = body.email.strip().casefold()
    await limits.email(email_key)
    return SelfRegistration(
        location_id=location.id,
        email_key=email_key,
        fields=body.model_dump(mode="json", exclude={"confirm_new_person"}),
        screening=screening,
        language=body.preferred_language,
        code_digest="",
        status=PENDING,
        expires_at=utcnow() + timedelta(seconds=settings.self_registration_code_seconds),
    )


async def _send_code(
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    row: SelfRegistration,
    body: RecipientCreate,
    location: Location,
) -> str:
    """Keeps the registration and emails its single-use code; returns the code page's token."""
    assert body.email
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    db.add(row)
    await db.flush()
    row.code_digest = _digest(settings, row.id, code)
    page = registration_token(settings, row.id)
    await queue_email(
        db,
        temporal,
        settings,
        key=f"self-registration-{row.id}:code",
        to=body.email,
        language=body.preferred_language,
        template="self_registration_code",
        context={
            "name": body.first_name,
            "code": code,
            "location_name": location.name,
            "verify_url": f"{settings.public_base_url.rstrip('/')}/find/verify/{page}?code={code}",
            "minutes": round(settings.self_registration_code_seconds / 60),
        },
    )
    return page


# --------------------------------------------------------------------------- the waitlist instead


async def register_for_waitlist(
    *,
    db: AsyncSession,
    settings: Settings,
    temporal: TemporalGateway,
    limits: SelfServiceLimits,
    location: Location,
    product_code: str,
    body: RecipientCreate,
    screening: dict[str, str],
    client: str | None,
) -> str:
    """When the released seats are gone: the same registration and code, and once the email is
    proven the person is on the location's waitlist for the product (offered a seat by email as
    one frees up). The answer is the same whoever the email belongs to."""
    require_scheduling(location)
    if product_code not in dict(await waitlist_products(db, location)):
        raise Invalid(
            "choose a vaccine this location offers",
            errors=[{"field": "product_code", "message": "not offered here"}],
        )
    if not body.email:
        raise Invalid(
            "enter your email: we send you a code", errors=[{"field": "email", "message": "required"}]
        )
    today = to_local(utcnow(), location.time_zone).date()
    await _check_rules_on(db, product_code, today, body, screening)
    await limits.address(client)
    row = await _registration(settings, limits, body, screening, location)
    row.waitlist_product = product_code
    return await _send_code(db, settings, temporal, row, body, location)


async def pending_registration(db: AsyncSession, settings: Settings, token: str) -> SelfRegistration:
    payload = _read(settings, REGISTRATION_LINK, token, settings.self_registration_code_seconds * 4)
    row = await db.get(SelfRegistration, payload.get("s"))
    if row is None:
        raise NotFound("no such registration")
    return row


async def _recipient_for(db: AsyncSession, row: SelfRegistration, location: Location) -> Recipient:
    """The record with this name, date of birth and (now proven) email, or a new one."""
    body = RecipientCreate.model_validate(row.fields)
    same = [
        r
        for r in await find_possible_duplicates(db, body.first_name, body.last_name, body.date_of_birth)
        if r.email_key == row.email_key
    ]
    if same:
        return min(same, key=lambda r: r.id)
    return await add_recipient(
        db,
        body.model_dump(exclude={"confirm_new_person"}),
        created_by=None,
        actor=ACTOR,
        location_id=location.id,
        reason="registered themselves from the public finder (email verified)",
    )


async def verify_and_book(
    *,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: TemporalGateway,
    token: str,
    code: str,
) -> SelfRegistration:
    """Spends the code (once, within its time and allowance), registers or finds the person, and
    books dose 1 in the held seat. A refused booking (the seat is gone) can be confirmed again.

    Each step is its own short transaction (a wrong guess stays counted though the request fails;
    on SQLite a transaction holds the write lock); the request's session only books."""
    async with reading(sessions) as read:
        row = await pending_registration(read, settings, token)
    if row.status == BOOKED:
        raise Conflict("this code has already been used", code="link_used")
    if row.status == PENDING:
        if row.expires_at <= utcnow():
            raise Gone("this code has expired; start again from the finder", code="code_expired")
        async with transaction(sessions) as guess:
            counted = await count_guess(guess, row.id, settings.self_registration_code_attempts)
        if not counted:
            raise Gone("too many wrong codes or the code has expired; start again", code="code_expired")
        if not hmac.compare_digest(row.code_digest, _digest(settings, row.id, code)):
            raise Invalid(
                "this code is not right", code="code_wrong", errors=[{"field": "code", "message": "wrong"}]
            )
    async with transaction(sessions) as verify:
        if row.status == PENDING and not await spend_code(verify, row.id):
            raise Conflict("this code has already been used", code="link_used")
        location = await verify.get(Location, row.location_id)
        if location is None:
            raise NotFound("no such location")
        recipient = await _recipient_for(verify, row, location)
        mine = await verify.get(SelfRegistration, row.id)
        assert mine is not None
        mine.recipient_id = recipient.id
        audit(
            verify,
            actor=ACTOR,
            location_id=location.id,
            entity="self_registration",
            entity_id=row.id,
            action="verified",
            changes={"recipient_id": [None, recipient.id]},
        )
        recipient_id = recipient.id
    if row.waitlist_product is not None:
        location = await db.get(Location, row.location_id)
        assert location is not None
        entry_id = await join_waitlist(db, settings, temporal, row, location, recipient_id, added_by=ACTOR)
        # In the request's transaction, with the entry: both are kept or neither.
        waiting = await db.get(SelfRegistration, row.id)
        assert waiting is not None
        waiting.status, waiting.waitlist_entry_id = BOOKED, entry_id
        return waiting
    slot = await db.get(Slot, row.slot_id)
    hold = await db.get(SeatHold, row.hold_id)
    assert slot is not None
    live = hold is not None and hold.status == HoldStatus.held and hold.expires_at > utcnow()
    fact: AppointmentFact = await book_slot(
        db,
        temporal,
        settings,
        recipient_id=recipient_id,
        slot=slot,
        actor=ACTOR,
        key=f"self-registration-{row.id}",
        dose_number=1,
        hold_id=row.hold_id if live else None,
        screening=row.screening,
    )
    async with transaction(sessions) as done:
        booked = await done.get(SelfRegistration, row.id)
        assert booked is not None
        booked.status, booked.appointment_id, booked.journey_id = BOOKED, fact.appointment_id, fact.journey_id
    return booked


async def next_dose(db: AsyncSession, settings: Settings, slot: Slot) -> tuple[str, DoseWindow] | None:
    """Dose 2's window if dose 1 is given at this slot (None for a one-dose product)."""
    product = await current_product(db, slot.product_code)
    if product is None or product.doses < 2:
        return None
    return product.name, next_dose_window(product.rule(), slot.start_at, settings.day_seconds)


def expires_in(moment: datetime) -> int:
    return max(0, int((moment - utcnow()).total_seconds()))
