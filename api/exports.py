"""Portable proof and registry export: the SMART Health Card key set, cards, FHIR R4 and HL7 VXU.

Records become the plain facts of notifications/immunization.py here; the builders there
(and in notifications/vxu.py, notifications/health_card.py) do the formats. The same
service functions serve the API, the `cvms export` command and the vaccination record PDF.

Who may export what: recipients are shared across locations, so any reader at their
active location may export one recipient's doses (wherever given). "Everything since T"
is the active location's own doses and a manager's job, like any location-wide report.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import Manager, Public, Reader, RecordId, SessionDep, SettingsDep
from api.errors import Conflict, NotFound
from api.recipient_links import open_link
from domain.journey_messages import LINK_RECORD
from domain.settings import Settings
from notifications.health_card import HealthCard, HealthCardTooLarge, health_card, jwks
from notifications.immunization import DoseFacts, PatientFacts, fhir_bundle
from notifications.vxu import vxu_batch
from records.db import transaction, utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.products import Product
from records.recipients import Recipient

router = APIRouter(tags=["exports"])

ExportRecords = list[tuple[PatientFacts, list[DoseFacts]]]


class ExportFormat(enum.StrEnum):
    fhir = "fhir"
    vxu = "vxu"


MEDIA_TYPES = {ExportFormat.fhir: "application/fhir+json", ExportFormat.vxu: "text/plain; charset=utf-8"}
SUFFIXES = {ExportFormat.fhir: "json", ExportFormat.vxu: "hl7"}


# --- records -> facts ------------------------------------------------------------------------


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


def _dose_facts(dose: Dose, location: Location, series_doses: int | None) -> DoseFacts:
    return DoseFacts(
        id=dose.id,
        recipient_id=dose.recipient_id,
        product_code=dose.product_code,
        dose_number=dose.dose_number,
        series_doses=series_doses,
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


async def _records(db: AsyncSession, *conditions: Any) -> ExportRecords:
    """Doses matching `conditions` with their location and product rule, grouped by recipient."""
    rows = await db.execute(
        select(Dose, Location, Product.doses, Recipient)
        .join(Location, Location.id == Dose.location_id)
        .join(Recipient, Recipient.id == Dose.recipient_id)
        .outerjoin(Product, (Product.code == Dose.product_code) & (Product.version == Dose.product_version))
        .where(*conditions)
        .order_by(Dose.recipient_id, Dose.given_at, Dose.id)
    )
    grouped: dict[int, tuple[PatientFacts, list[DoseFacts]]] = {}
    for dose, location, series_doses, recipient in rows.all():
        patient, doses = grouped.setdefault(recipient.id, (patient_facts(recipient), []))
        doses.append(_dose_facts(dose, location, series_doses))
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


# --- routes ----------------------------------------------------------------------------------


@router.get("/.well-known/jwks.json", dependencies=[Public])
async def health_card_keys(settings: SettingsDep) -> JSONResponse:
    """The public key SMART Health Cards from this deployment are signed with."""
    # Verifier apps fetch it from the browser too, so the framework asks for open CORS.
    return JSONResponse(
        jwks(settings.health_card_signing_key()),
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=3600"},
    )


async def _recipient(db: AsyncSession, recipient_id: int) -> Recipient:
    recipient = await db.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    return recipient


def _download(content: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


FormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="fhir (R4 Bundle) or vxu (HL7 2.5.1)")
]


@router.get("/recipients/{recipient_id}/export")
async def export_recipient(
    recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep, export_format: FormatQuery
) -> Response:
    """One recipient's doses, wherever given, for the immunization registry."""
    records = await recipient_records(db, await _recipient(db, recipient_id))
    content = render_export(records, export_format, settings, utcnow())
    filename = f"cvms-recipient-{recipient_id}.{SUFFIXES[export_format]}"
    return _download(content, MEDIA_TYPES[export_format], filename)


@router.get("/exports/doses")
async def export_location_doses(
    actor: Manager,
    db: SessionDep,
    settings: SettingsDep,
    export_format: FormatQuery,
    since: Annotated[AwareDatetime, Query(description="doses documented, edited or removed since then")],
) -> Response:
    """The active location's doses documented (or changed) since a time, for the registry."""
    records = await location_records_since(db, since, actor.location.id)
    content = render_export(records, export_format, settings, utcnow())
    filename = f"cvms-{actor.location.code}-since-{since:%Y%m%dT%H%M%S}.{SUFFIXES[export_format]}"
    return _download(content, MEDIA_TYPES[export_format], filename)


async def _issue_card(
    db: AsyncSession, settings: Settings, recipient_id: int, journey_id: str | None = None
) -> HealthCard:
    try:
        card = await health_card_for_recipient(db, settings, recipient_id, journey_id=journey_id)
    except HealthCardTooLarge as exc:
        raise Conflict(str(exc), code="health_card_too_large") from None
    if card is None:
        raise Conflict("no dose is documented yet", code="no_documented_doses")
    return card


def _card_file(card: HealthCard, recipient_id: int) -> Response:
    return _download(
        json.dumps(card.file_document()),
        "application/smart-health-card",
        f"cvms-recipient-{recipient_id}.smart-health-card",
    )


@router.get("/recipients/{recipient_id}/health-card")
async def recipient_health_card(
    recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> Response:
    """The recipient's SMART Health Card (all their doses) as a `.smart-health-card` file."""
    await _recipient(db, recipient_id)
    return _card_file(await _issue_card(db, settings, recipient_id), recipient_id)


@router.get("/recipients/{recipient_id}/health-card.png")
async def recipient_health_card_qr(
    recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> Response:
    """The recipient's SMART Health Card as a QR code image."""
    await _recipient(db, recipient_id)
    return Response((await _issue_card(db, settings, recipient_id)).qr_png, media_type="image/png")


async def _linked_journey(db: AsyncSession, settings: Settings, token: str) -> Journey:
    payload = open_link(settings, LINK_RECORD, token)
    journey = await db.get(Journey, payload.get("j"))
    if journey is None or journey.recipient_id != payload.get("r"):
        raise NotFound("this record no longer exists")
    return journey


@router.get("/r/record/{token}/health-card", dependencies=[Public])
async def linked_health_card(token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The series' SMART Health Card through the recipient's signed record link."""
    journey = await _linked_journey(db, settings, token)
    card = await _issue_card(db, settings, journey.recipient_id, journey.id)
    return _card_file(card, journey.recipient_id)


@router.get("/r/record/{token}/health-card.png", dependencies=[Public])
async def linked_health_card_qr(token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The series' SMART Health Card QR code through the recipient's signed record link."""
    journey = await _linked_journey(db, settings, token)
    card = await _issue_card(db, settings, journey.recipient_id, journey.id)
    return Response(card.qr_png, media_type="image/png")
