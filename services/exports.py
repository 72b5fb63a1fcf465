"""Portable proof and registry export: a recipient's vaccination record, SMART Health Cards,
FHIR R4 and HL7 VXU.

Records become the plain facts of notifications/immunization.py here; the builders there
(and in notifications/vxu.py, notifications/health_card.py) do the formats. The same
functions serve the API, the portal and link pages, the `cvms export` command and the
vaccination record PDF.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import Conflict, NotFound
from domain.settings import Settings
from notifications.health_card import HealthCard, HealthCardTooLarge, health_card
from notifications.immunization import DoseFacts, PatientFacts, fhir_bundle
from notifications.vxu import vxu_batch
from records.db import transaction, utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import Product
from records.recipients import Recipient
from records.schedules import ScheduleVersion

ExportRecords = list[tuple[PatientFacts, list[DoseFacts]]]


class ExportFormat(enum.StrEnum):
    fhir = "fhir"
    vxu = "vxu"


def patient_facts(recipient: Recipient) -> PatientFacts:
    return PatientFacts(
        id=recipient.id,
        first_name=recipient.first_name,
        middle_name=recipient.middle_name or "",
        last_name=recipient.last_name,
        date_of_birth=recipient.date_of_birth,
        sex=recipient.sex,
        address_line=recipient.address_line or "",
        city=recipient.city or "",
        state=recipient.state or "",
        postal_code=recipient.postal_code or "",
        phone=recipient.phone or "",
        email=recipient.email or "",
        language=recipient.preferred_language,
        race=recipient.race,
        ethnicity=recipient.ethnicity,
    )


def _dose_facts(dose: Dose, location: Location, series_doses: int | None, series: str = "") -> DoseFacts:
    return DoseFacts(
        id=dose.id,
        recipient_id=dose.recipient_id,
        product_code=dose.product_code,
        dose_number=family_dose_number(dose),
        series_doses=series_doses,
        series=series,
        lot_number=dose.lot_number,
        expires_on=dose.expires_on,
        injection_site=dose.injection_site,
        route=dose.route,
        administered_by=dose.administered_by,
        given_at=dose.given_at,
        recorded_at=dose.created_at,
        location_code=location.code,
        location_name=location.name,
        removed=dose.removed,
    )


def family_dose_number(dose: Dose) -> int:
    """The dose's number in its vaccine family (a booster after two primary doses is dose 3)."""
    return dose.family_dose_number or dose.dose_number


def _series_of(
    dose: Dose, journey: Journey, names: dict[tuple[str, int], str], product_doses: int | None
) -> tuple[int | None, str]:
    """(doses in the series, the series' name) as the exports state them."""
    rule = journey.series_rule
    if not rule or not dose.schedule_code:
        return product_doses, ""
    name = names.get((dose.schedule_code, dose.schedule_version or 0), dose.schedule_code)
    part = "booster" if dose.series_kind == "booster" else "primary series"
    if dose.series_kind == "booster":
        return None, f"{name} (v{dose.schedule_version}), {part}"
    return int(rule["doses"]) + int(
        rule.get("first_dose_number", 1)
    ) - 1, f"{name} (v{dose.schedule_version}), {part}"


async def _records(db: AsyncSession, *conditions: Any) -> ExportRecords:
    """Doses matching `conditions` with their location and product rule, grouped by recipient."""
    rows = await db.execute(
        select(Dose, Location, Product.doses, Recipient, Journey)
        .join(Location, Location.id == Dose.location_id)
        .join(Recipient, Recipient.id == Dose.recipient_id)
        .join(Journey, Journey.id == Dose.journey_id)
        .outerjoin(Product, (Product.code == Dose.product_code) & (Product.version == Dose.product_version))
        .where(*conditions)
        .order_by(Dose.recipient_id, Dose.given_at, Dose.id)
    )
    names = {
        (code, version): name
        for code, version, name in await db.execute(
            select(ScheduleVersion.code, ScheduleVersion.version, ScheduleVersion.name)
        )
    }
    grouped: dict[int, tuple[PatientFacts, list[DoseFacts]]] = {}
    for dose, location, product_doses, recipient, journey in rows.all():
        patient, doses = grouped.setdefault(recipient.id, (patient_facts(recipient), []))
        doses.append(_dose_facts(dose, location, *_series_of(dose, journey, names, product_doses)))
    return list(grouped.values())


async def recipient_records(db: AsyncSession, recipient: Recipient) -> ExportRecords:
    """Every dose of one recipient, wherever given; removed ones included (as such)."""
    found = await _records(db, Dose.recipient_id == recipient.id)
    return found or [(patient_facts(recipient), [])]


async def location_records_since(db: AsyncSession, since: datetime, location_id: int | None) -> ExportRecords:
    """Doses documented, edited or removed since `since` (at one location, or all), by recipient.

    Changed-since rather than given-since, so a registry fed these exports also learns
    about corrections and removals.
    """
    conditions = [Dose.updated_at >= since]
    if location_id is not None:
        conditions.append(Dose.location_id == location_id)
    return await _records(db, *conditions)


def render_export(
    records: ExportRecords, export_format: ExportFormat, settings: Settings, timestamp: datetime
) -> str:
    if export_format is ExportFormat.fhir:
        bundle = fhir_bundle(records, base_url=settings.public_base_url, timestamp=timestamp)
        return json.dumps(bundle, ensure_ascii=False, indent=1)
    return vxu_batch(records, timestamp=timestamp)


async def export_text(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    export_format: ExportFormat,
    *,
    since: datetime | None = None,
    recipient_id: int | None = None,
    location_code: str | None = None,
) -> str:
    """What `cvms export` writes: one recipient's doses, or all (or one location's) since a time.
    Raises LookupError naming the recipient or location that does not exist."""
    async with transaction(sessions) as db:
        location_id = None
        if location_code is not None:
            location_id = (
                await db.execute(select(Location.id).where(Location.code == location_code))
            ).scalar_one_or_none()
            if location_id is None:
                raise LookupError(f"no location with code {location_code}")
        if recipient_id is not None:
            recipient = await db.get(Recipient, recipient_id)
            if recipient is None:
                raise LookupError(f"no recipient with id {recipient_id}")
            records = await recipient_records(db, recipient)
            if location_id is not None:
                records = [(p, [d for d in ds if d.location_code == location_code]) for p, ds in records]
        else:
            assert since is not None, "give since or recipient_id"
            records = await location_records_since(db, since, location_id)
        return render_export(records, export_format, settings, utcnow())


async def health_card_for_recipient(
    db: AsyncSession,
    settings: Settings,
    recipient_id: int,
    *,
    journey_id: str | None = None,
    issued_at: datetime | None = None,
) -> HealthCard | None:
    """The recipient's SMART Health Card (signed JWS, `shc:/` URI and QR code PNG), or None
    when no dose is documented. `journey_id` limits it to one series, as on that series'
    vaccination record. This is what the vaccination record PDF embeds (`card.qr_png`).
    Raises HealthCardTooLarge if the doses do not fit in one QR code."""
    conditions: list[Any] = [Dose.recipient_id == recipient_id, Dose.removed.is_(False)]
    if journey_id is not None:
        conditions.append(Dose.journey_id == journey_id)
    found = await _records(db, *conditions)
    if not found:
        return None
    patient, doses = found[0]
    return health_card(
        patient,
        doses,
        issuer=settings.public_base_url,
        issued_at=issued_at or utcnow(),
        key=settings.health_card_signing_key(),
    )


async def issue_card(
    db: AsyncSession, settings: Settings, recipient_id: int, journey_id: str | None = None
) -> HealthCard:
    """The card to hand out; refused when it cannot be made (nothing documented, too many doses)."""
    try:
        card = await health_card_for_recipient(db, settings, recipient_id, journey_id=journey_id)
    except HealthCardTooLarge as exc:
        raise Conflict(str(exc), code="health_card_too_large") from None
    if card is None:
        raise Conflict("no dose is documented yet", code="no_documented_doses")
    return card


# --- the vaccination record (printed as a PDF by api/exports/vaccination_record.py) -----------


@dataclass(frozen=True)
class RecordDose:
    dose_number: int
    product: str
    lot_number: str
    expires_on: date
    given_at: datetime
    location: str
    time_zone: str
    administered_by: str
    injection_site: str
    route: str


@dataclass(frozen=True)
class VaccinationRecord:
    recipient: Recipient
    doses: list[RecordDose]
    card_qr_png: bytes | None = None  # the SMART Health Card of these doses, as a QR code


async def load_record(
    db: AsyncSession, recipient: Recipient, settings: Settings | None = None
) -> VaccinationRecord:
    """The recipient's doses (not removed in error, wherever given); with `settings`, also their
    SMART Health Card (for the record PDF)."""
    rows = await db.execute(
        select(Dose, Location, Product)
        .join(Location, Location.id == Dose.location_id)
        .join(Product, (Product.code == Dose.product_code) & (Product.version == Dose.product_version))
        .where(Dose.recipient_id == recipient.id, Dose.removed.is_(False))
        .order_by(Dose.given_at, Dose.id)
    )
    doses = [
        RecordDose(
            dose_number=family_dose_number(dose),
            product=product.name,
            lot_number=dose.lot_number,
            expires_on=dose.expires_on,
            given_at=dose.given_at,
            location=location.name,
            time_zone=location.time_zone,
            administered_by=dose.administered_by,
            injection_site=dose.injection_site,
            route=dose.route,
        )
        for dose, location, product in rows.all()
    ]
    card = None
    if settings is not None and doses:
        try:
            card = await health_card_for_recipient(db, settings, recipient.id)
        except HealthCardTooLarge:
            card = None  # too many doses for one code: the record is printed without it
    return VaccinationRecord(recipient=recipient, doses=doses, card_qr_png=card.qr_png if card else None)


@dataclass(frozen=True)
class SeriesDose:
    dose_number: int
    product: str
    lot_number: str
    given_at: datetime
    location: str


@dataclass(frozen=True)
class SeriesRecord:
    """One series' record as the recipient's record link shows it (JSON)."""

    name: str
    date_of_birth: date
    series: str
    product: str | None
    doses_required: int | None
    complete: bool
    doses: list[SeriesDose]


async def series_record(db: AsyncSession, recipient_id: Any, journey_id: Any) -> SeriesRecord:
    recipient = await db.get(Recipient, recipient_id)
    journey = await db.get(Journey, journey_id)
    if recipient is None or journey is None or journey.recipient_id != recipient.id:
        raise NotFound("this record no longer exists")
    rows = await db.execute(
        select(Dose, Location)
        .join(Location, Location.id == Dose.location_id)
        .where(Dose.journey_id == journey.id, Dose.removed.is_(False))
        .order_by(Dose.dose_number)
    )
    product = (
        await db.execute(
            select(Product).where(
                Product.code == journey.product_code, Product.version == journey.product_version
            )
        )
    ).scalar_one_or_none()
    doses = [
        SeriesDose(
            dose_number=family_dose_number(d),
            product=product.name if product else d.product_code,
            lot_number=d.lot_number,
            given_at=d.given_at,
            location=loc.name,
        )
        for d, loc in rows.all()
    ]
    return SeriesRecord(
        name=recipient.full_name,
        date_of_birth=recipient.date_of_birth,
        series=journey.id,
        product=product.name if product else None,
        doses_required=product.doses if product else None,
        complete=journey.status == "complete",
        doses=doses,
    )
