"""CSV upload pages for location managers: choose a file and upload it; its page shows the
progress while the rows are registered in the background (a small script polls the JSON
progress at /recipients/uploads/{id}), then every row's outcome."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.responses import Response

from api.deps import Actor, Manager, RecordId, SessionDep, SettingsDep, TemporalDep
from api.downloads import download
from api.pages.csrf import CheckedForm
from api.pages.i18n import N_
from api.pages.rendering import PageRoute, error_text, redirect, render
from api.recipients.deps import UploadDep
from api.recipients.schemas import RecipientFields
from domain.refusals import Invalid
from records.recipients import Recipient
from records.uploads import REQUIRED_COLUMNS
from services import upload_results, uploads
from services.uploads import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)

# The registration fields a file's columns name, as the pages label them.
FIELD_LABELS = {
    "first_name": N_("First name"),
    "middle_name": N_("Middle name"),
    "last_name": N_("Last name"),
    "date_of_birth": N_("Date of birth"),
    "sex": N_("Sex"),
    "address_line": N_("Street address"),
    "city": N_("City"),
    "state": N_("State"),
    "postal_code": N_("ZIP code"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "preferred_language": N_("Preferred language"),
    "race": N_("Race"),
    "ethnicity": N_("Ethnicity"),
    "row": N_("Row"),
}
OUTCOME_NAMES = {"created": N_("Created"), "duplicate": N_("Duplicate"), "invalid": N_("Error")}
COLUMN_PROBLEMS = {"missing column": N_("missing"), "unknown column": N_("not a registration field")}
# What a refused file is told, by the API's code.
FILE_ERRORS = {
    "csv_columns": N_(
        "The header row must name registration fields, with at least first_name, last_name, "
        "date_of_birth and sex."
    ),
    "csv_too_large": N_("The file is larger than 5 MB."),
    "csv_too_long": N_("A file has at most 10,000 rows."),
    "csv_empty": N_("The file has a header row but no recipients."),
    "not_utf8": N_("Save the file as CSV in UTF-8 and try again."),
}


async def _form_page(request: Request, actor: Actor, db: SessionDep, **context: Any) -> Response:
    return render(
        request,
        "portal/uploads.html",
        actor=actor,
        recent=await uploads.recent_uploads(db, actor),
        required=sorted(REQUIRED_COLUMNS),
        optional=[c for c in RecipientFields.model_fields if c not in REQUIRED_COLUMNS],
        **context,
    )


@router.get("/uploads")
async def uploads_page(request: Request, actor: Manager, db: SessionDep) -> Response:
    return await _form_page(request, actor, db)


@router.post("/uploads")
async def upload_submit(
    request: Request,
    actor: Manager,
    form: CheckedForm,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _form_page(request, actor, db, file_error=N_("Choose a CSV file."), status_code=422)
    try:
        raw = await file.read(MAX_UPLOAD_BYTES + 1)
        started = await uploads.start_upload(db, actor, settings, temporal, raw=raw, filename=file.filename)
    except Invalid as exc:
        return await _form_page(
            request,
            actor,
            db,
            file_error=FILE_ERRORS.get(exc.code or "", exc.message),
            columns=[(e["field"], COLUMN_PROBLEMS[e["message"]]) for e in exc.extra.get("errors", [])],
            status_code=422,
        )
    return redirect(f"/portal/uploads/{started.id}")


@router.get("/uploads/template.csv")
async def template_download(actor: Manager) -> Response:
    """A CSV to start from: every registration field's column and one example row."""
    return download(upload_results.template_csv(), "text/csv; charset=utf-8", "recipients-template.csv")


@router.get("/uploads/{upload_id}/problems.csv")
async def problems_download(
    upload_id: RecordId, actor: Manager, upload: UploadDep, db: SessionDep
) -> Response:
    """The rows not registered, as uploaded, with a `problem` column: fix them and upload this file."""
    content = await upload_results.problem_rows_csv(db, upload)
    return download(content, "text/csv; charset=utf-8", f"problems-{upload.filename}")


@router.get("/uploads/{upload_id}")
async def upload_page(
    request: Request,
    upload_id: RecordId,
    actor: Manager,
    upload: UploadDep,
    db: SessionDep,
    show: Literal["all", "problems"] = "all",
) -> Response:
    """While it runs: the progress (the script updates it). Then: the counts and the rows (all,
    or only those not registered), each error beside the value the file had."""
    shown = await uploads.upload_out(db, upload, outcomes=upload.status == "done")
    _columns, cells = upload_results.file_values(upload) if upload.status == "done" else ([], {})
    rows = [o for o in shown.outcomes if show == "all" or o.outcome != "created"]
    ids = {o.recipient_id for o in shown.outcomes if o.recipient_id}
    ids |= {i for o in shown.outcomes for i in o.duplicate_of}
    people = (await db.execute(select(Recipient).where(Recipient.id.in_(ids)))).scalars() if ids else []
    names = {person.id: person.full_name for person in people}
    return render(
        request,
        "portal/upload.html",
        actor=actor,
        upload=shown,
        rows=rows,
        show=show,
        cells=cells,
        names=names,
        field_labels=FIELD_LABELS,
        outcome_names=OUTCOME_NAMES,
        error_text=error_text,
    )
