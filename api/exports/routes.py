"""Portable proof and registry export over HTTP: the SMART Health Card key set, cards, FHIR R4
and HL7 VXU. What they contain is services/exports.py's (shared with the CLI and the PDFs).

Who may export what: recipients are shared across locations, so any reader at their
active location may export one recipient's doses (wherever given). "Everything since T"
is the active location's own doses and a manager's job, like any location-wide report.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime

from api.deps import Manager, Public, Reader, RecordId, SessionDep, SettingsDep
from api.downloads import download
from notifications.health_card import HealthCard, jwks
from records.db import utcnow
from services.exports import (
    ExportFormat,
    issue_card,
    location_records_since,
    recipient_records,
    render_export,
)
from services.recipient_links import linked_series
from services.recipients import load_recipient

router = APIRouter(tags=["exports"])

MEDIA_TYPES = {ExportFormat.fhir: "application/fhir+json", ExportFormat.vxu: "text/plain; charset=utf-8"}
SUFFIXES = {ExportFormat.fhir: "json", ExportFormat.vxu: "hl7"}


@router.get("/.well-known/jwks.json", dependencies=[Public])
async def health_card_keys(settings: SettingsDep) -> JSONResponse:
    """The public key SMART Health Cards from this deployment are signed with."""
    # Verifier apps fetch it from the browser too, so the framework asks for open CORS.
    return JSONResponse(
        jwks(settings.health_card_signing_key()),
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=3600"},
    )


def _download(content: str | bytes, media_type: str, filename: str) -> Response:
    return download(content, media_type, filename)


FormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="fhir (R4 Bundle) or vxu (HL7 2.5.1)")
]


@router.get("/recipients/{recipient_id}/export")
async def export_recipient(
    recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep, export_format: FormatQuery
) -> Response:
    """One recipient's doses, wherever given, for the immunization registry."""
    records = await recipient_records(db, await load_recipient(db, recipient_id))
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
    await load_recipient(db, recipient_id)
    return _card_file(await issue_card(db, settings, recipient_id), recipient_id)


@router.get("/recipients/{recipient_id}/health-card.png")
async def recipient_health_card_qr(
    recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> Response:
    """The recipient's SMART Health Card as a QR code image."""
    await load_recipient(db, recipient_id)
    return Response((await issue_card(db, settings, recipient_id)).qr_png, media_type="image/png")


@router.get("/r/record/{token}/health-card", dependencies=[Public])
async def linked_health_card(token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The series' SMART Health Card through the recipient's signed record link."""
    journey = await linked_series(db, settings, token)
    card = await issue_card(db, settings, journey.recipient_id, journey.id)
    return _card_file(card, journey.recipient_id)


@router.get("/r/record/{token}/health-card.png", dependencies=[Public])
async def linked_health_card_qr(token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The series' SMART Health Card QR code through the recipient's signed record link."""
    journey = await linked_series(db, settings, token)
    card = await issue_card(db, settings, journey.recipient_id, journey.id)
    return Response(card.qr_png, media_type="image/png")
