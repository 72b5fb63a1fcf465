"""Portal pages for doses: document, edit, remove, and the record and registration form PDFs."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from api.deps import Actor, Documenter, Reader, RecordId, SessionDep, SettingsDep, WiringDep
from api.doses.deps import DoseDep, document, edit
from api.doses.recipient_pages import DOSE_FIELDS, local_instant, recipient_again
from api.doses.schemas import DoseEdit, DoseIn
from api.eligibility.pages import answers_from, questions_for, refusal_of
from api.errors import Conflict, Unprocessable, http_status
from api.exports.vaccination_record import pdf_response, record_pdf, registration_form_pdf
from api.pages.confirm import Confirm, ask_once
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, field_errors, redirect, refusal_errors, render
from records.db import reading, utcnow
from records.journeys import Dose
from records.products import InventoryLot
from services import doses
from services.exports import load_record
from services.recipients import load_recipient

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)


async def _chosen_lot(db: AsyncSession, actor: Actor, value: str) -> InventoryLot | None:
    """The lot a form chose, when it is one of this location's."""
    if not value.isdigit() or len(value) > 9:
        return None
    return (
        await db.execute(
            select(InventoryLot).where(
                InventoryLot.id == int(value), InventoryLot.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()


@router.post("/recipients/{recipient_id}/doses")
async def document_submit(
    request: Request, recipient_id: RecordId, actor: Documenter, form: CheckedForm, wiring: WiringDep
) -> Response:
    """Documents a dose from the chosen lot. The form's key makes a repeated post document it
    once; a bad value or a refusal is said beside the form, which keeps what was posted."""
    await load_recipient(wiring.db, recipient_id)
    posted = {name: str(form.get(name, "")).strip() for name in DOSE_FIELDS}
    lot = await _chosen_lot(wiring.db, actor, posted["lot_id"])
    questions = await questions_for(wiring.db, lot.product_code) if lot else []
    answers = answers_from(form, questions)
    errors: dict[str, str] = {} if lot else {"lot_id": N_("Choose one of the lots offered.")}
    given_at = None
    if posted["given_at"]:
        try:
            given_at = local_instant(posted["given_at"], actor.location.time_zone)
        except ValueError:
            errors["given_at"] = N_("Enter a date and time.")
    try:  # without a lot, the other fields are still checked (the lot's own error is said above)
        body = DoseIn(
            product_code=lot.product_code if lot else "-",
            lot_number=lot.lot_number if lot else "-",
            injection_site=posted["injection_site"],
            route=posted["route"] or "intramuscular",
            administered_by=posted["administered_by"] or None,
            given_at=given_at,
            idempotency_key=str(form.get("idempotency_key", "")).strip() or None,
            screening=answers,
        )
    except ValidationError as exc:
        errors = {**field_errors(exc), **errors}
    if errors:
        return await recipient_again(
            request,
            wiring,
            actor,
            recipient_id,
            Unprocessable(N_("Please correct the fields marked below.")),
            document_form=posted,
            document_answers=answers,
            document_errors=errors,
        )
    try:
        outcome = await document(wiring, actor, recipient_id, body, body.idempotency_key)
    except (Conflict, Unprocessable) as refused:
        return await recipient_again(
            request,
            wiring,
            actor,
            recipient_id,
            refused,
            document_form=posted,
            document_answers=answers,
            document_refusal=refusal_of(refused, questions),
        )
    notice = "dose_documented_with_warning" if outcome.dose.warning else "dose_documented"
    return redirect(f"/portal/recipients/{recipient_id}?notice={notice}")


async def _dose_edit_page(
    request: Request,
    actor: Actor,
    dose: Dose,
    db: AsyncSession,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().astimezone(ZoneInfo(actor.location.time_zone)).date()
    lots = (
        (
            await db.execute(
                select(InventoryLot).where(
                    InventoryLot.location_id == actor.location.id,
                    InventoryLot.product_code == dose.product_code,
                    InventoryLot.expires_on >= today,
                )
            )
        )
        .scalars()
        .all()
    )
    given_local = dose.given_at.astimezone(ZoneInfo(actor.location.time_zone)).strftime("%Y-%m-%dT%H:%M:%S")
    current = {
        "lot_number": dose.lot_number,
        "injection_site": dose.injection_site,
        "route": dose.route,
        "administered_by": dose.administered_by,
        "given_at": given_local,
        "reason": "",
    }
    return render(
        request,
        "portal/dose_edit.html",
        actor=actor,
        status_code=status_code,
        here=f"/portal/doses/{dose.id}/edit",
        dose=dose,
        lots=lots,
        form=form or current,
        errors=errors or {},
    )


@router.get("/doses/{dose_id}/edit")
async def edit_dose_page(
    request: Request, dose_id: RecordId, actor: Documenter, dose: DoseDep, db: SessionDep
) -> Response:
    return await _dose_edit_page(request, actor, dose, db)


DOSE_EDIT_FIELDS = ("lot_number", "injection_site", "route", "administered_by", "given_at", "reason")


# The page's own words for refusals whose API message carries the lot number and dates.
DOSE_EDIT_WORDS = {
    "lot_expired": N_("This lot had expired by the day the dose was given."),
    "lot_product_mismatch": N_("This lot is of another product."),
    "dose_removed": N_("This dose was removed in error; it cannot be edited."),
}


@router.post("/doses/{dose_id}/edit")
async def edit_dose_submit(
    request: Request,
    dose_id: RecordId,
    actor: Documenter,
    dose: DoseDep,
    form: CheckedForm,
    wiring: WiringDep,
) -> Response:
    """Corrects a dose; a bad value is said beside its field and the dose stays as it was."""
    recipient_id = dose.recipient_id
    posted = {name: str(form.get(name, "")).strip() for name in DOSE_EDIT_FIELDS}
    errors: dict[str, str] = {}
    new_given = None
    if posted["given_at"]:
        try:
            new_given = local_instant(posted["given_at"], actor.location.time_zone)
        except ValueError:
            errors["given_at"] = N_("Enter a date and time.")
    changed: dict[str, Any] = {
        "lot_number": posted["lot_number"] or None,
        "injection_site": posted["injection_site"] or None,
        "route": posted["route"] or None,
        "administered_by": posted["administered_by"] or None,
        "given_at": new_given,
    }
    current = {
        "lot_number": dose.lot_number,
        "injection_site": dose.injection_site,
        "route": dose.route,
        "administered_by": dose.administered_by,
        "given_at": dose.given_at.replace(microsecond=0),
    }
    updates = {k: v for k, v in changed.items() if v is not None and v != current[k]}
    try:
        body = DoseEdit(**updates, reason=posted["reason"])
    except ValidationError as exc:
        found = field_errors(exc, across=("form", N_("Change at least one field.")))
        if errors:  # a time that is not one: nothing else to say about what changed
            found.pop("form", None)
        errors = {**found, **errors}
    if errors:
        return await _dose_edit_page(
            request, actor, dose, wiring.db, form=posted, errors=errors, status_code=422
        )
    try:
        await edit(wiring, actor, dose, body)
    except (Conflict, Unprocessable) as refused:
        # Read afresh: the request's own transaction may have ended when the change went to the workflow.
        async with reading(wiring.sessions) as fresh:
            unchanged = await fresh.get(Dose, dose_id)  # the page loaded it at this location already
            return await _dose_edit_page(
                request,
                actor,
                unchanged,
                fresh,
                form=posted,
                errors=refusal_errors(refused, words=DOSE_EDIT_WORDS),
                status_code=http_status(refused),
            )
    return redirect(f"/portal/recipients/{recipient_id}?notice=dose_edited")


@router.post("/doses/{dose_id}/remove")
async def remove_dose_submit(
    request: Request,
    dose_id: RecordId,
    actor: Documenter,
    dose: DoseDep,
    form: CheckedForm,
    wiring: WiringDep,
) -> Response:
    recipient_id = dose.recipient_id
    recipient = await load_recipient(wiring.db, recipient_id)
    reason = ask_once(
        request,
        actor,
        form,
        Confirm(
            action=f"/portal/doses/{dose_id}/remove",
            heading=N_("Remove this dose as entered in error?"),
            button=N_("Remove in error"),
            back=f"/portal/recipients/{recipient_id}",
            subject=f"{recipient.full_name} · {dose.lot_number}",
            when=dose.given_at,
            lead=N_("The dose stays in the record, marked as removed in error with your reason."),
            reason=N_("Reason for removing the dose"),
        ),
    )
    if isinstance(reason, Response):
        return reason
    await doses.remove_dose(**wiring.io_sessions, dose=dose, actor=actor.actor, reason=reason)
    return redirect(f"/portal/recipients/{recipient_id}?notice=dose_removed")


@router.get("/recipients/{recipient_id}/record.pdf")
async def record_download(
    request: Request, recipient_id: RecordId, actor: Reader, db: SessionDep, settings: SettingsDep
) -> Response:
    recipient = await load_recipient(db, recipient_id)
    lang = str(request.query_params.get("lang", recipient.preferred_language))
    lang = lang if lang in ("en", "es") else "en"
    record = await load_record(db, recipient, settings)
    return pdf_response(record_pdf(record, lang), f"vaccination-record-{recipient_id}-{lang}.pdf")


@router.get("/recipients/{recipient_id}/registration-form.pdf")
async def form_download(request: Request, recipient_id: RecordId, actor: Reader, db: SessionDep) -> Response:
    recipient = await load_recipient(db, recipient_id)
    lang = str(request.query_params.get("lang", recipient.preferred_language))
    lang = lang if lang in ("en", "es") else "en"
    content = registration_form_pdf(await load_record(db, recipient), lang)
    return pdf_response(content, f"registration-and-administration-{recipient_id}-{lang}.pdf")
