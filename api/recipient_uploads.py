"""Bulk registration: a location manager uploads recipients as CSV (the registration fields).

Every row is validated exactly like a registration. A row that names a person
already registered (same name and date of birth), or repeats an earlier row of
the same file, is flagged as a duplicate and not created. Each good row is
written in its own savepoint, so a row is either wholly created (recipient and
audit entry) or not at all; the response lists every row's outcome.

- POST /recipients/upload               the whole file in the request; the answer is the report
- POST /recipients/uploads              a long file in the background: the file is checked
                                        (size, header, row count) and kept, and the workflow
                                        `recipient-upload-<id>` registers it a chunk of rows at a
                                        time (activities/uploads.py), each chunk in one
                                        transaction with its progress, so it survives restarts
- GET  /recipients/uploads              this location's recent background uploads
- GET  /recipients/uploads/{upload_id}  its progress (rows done of total) and the outcomes so far
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Manager, RecordId, SessionDep, SettingsDep, TemporalDep
from api.errors import NotFound, Unprocessable
from api.recipients import RecipientFields, find_possible_duplicates, snapshot
from domain.uploads import UploadInput, UploadStatus, upload_workflow_id
from records.audit import audit, diff
from records.recipients import Recipient, fold
from records.uploads import RecipientUpload, UploadRow
from workflows.uploads import RecipientUploadWorkflow

router = APIRouter(prefix="/recipients", tags=["recipients"])

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
REQUIRED_COLUMNS = {"first_name", "last_name", "date_of_birth", "sex"}
KNOWN_COLUMNS = set(RecipientFields.model_fields)

Outcome = Literal["created", "duplicate", "invalid"]


class RowError(BaseModel):
    field: str
    message: str
    code: str = Field(default="", description="pydantic's error type, e.g. date_from_datetime_parsing")


class RowOutcome(BaseModel):
    row: int  # line number in the file, the header being line 1
    outcome: Outcome
    recipient_id: int | None = None
    duplicate_of: list[int] = []
    errors: list[RowError] = []


class UploadReport(BaseModel):
    rows: int
    created: int
    duplicates: int
    invalid: int
    outcomes: list[RowOutcome]


def _row_errors(error: ValidationError) -> list[RowError]:
    return [
        RowError(field=".".join(str(p) for p in e["loc"]) or "row", message=e["msg"], code=e["type"])
        for e in error.errors()
    ]


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Unprocessable(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", code="csv_too_large")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable("the file is not UTF-8 text", code="not_utf8") from None


def read_rows(text: str) -> list[dict[str, Any]]:
    """The rows of a CSV text whose header names registration fields (a bad header is a 422)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = sorted(REQUIRED_COLUMNS - set(columns))
    unknown = sorted(set(columns) - KNOWN_COLUMNS)
    if missing or unknown:  # every column problem at once
        raise Unprocessable(
            "; ".join(
                part
                for part in (
                    f"the header row lacks {', '.join(missing)}" if missing else "",
                    f"unknown columns: {', '.join(unknown)}" if unknown else "",
                )
                if part
            ),
            code="csv_columns",
            errors=[{"field": name, "message": "missing column"} for name in missing]
            + [{"field": name, "message": "unknown column"} for name in unknown],
        )
    reader.fieldnames = columns
    rows = []
    for values in reader:
        if len(rows) >= MAX_ROWS:
            raise Unprocessable(f"at most {MAX_ROWS} rows per upload", code="csv_too_long")
        rows.append(values)
    return rows


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Blank optional cells mean "not given"; a short row's missing cells are None."""
    cleaned = {}
    for name, value in values.items():
        if name is None:
            continue  # cells beyond the header: reported below
        value = (value or "").strip()
        if value or name in REQUIRED_COLUMNS:
            cleaned[name] = value
    return cleaned


async def register_rows(
    db: AsyncSession,
    rows: list[dict[str, Any]],
    *,
    first_line: int,
    actor: str,
    user_id: int,
    location_id: int,
    filename: str,
    seen: dict[tuple[str, str, date], int] | None = None,
) -> list[RowOutcome]:
    """Registers each valid, new row (the first on line `first_line`), each in its own savepoint;
    `seen` (person key -> recipient id) carries the people this file created between calls."""
    seen = {} if seen is None else seen
    outcomes: list[RowOutcome] = []
    for line, values in enumerate(rows, start=first_line):
        if None in values:
            outcomes.append(
                RowOutcome(
                    row=line,
                    outcome="invalid",
                    errors=[
                        RowError(field="row", message="more cells than header columns", code="extra_cells")
                    ],
                )
            )
            continue
        try:
            fields = RecipientFields.model_validate(_clean(values))
        except ValidationError as error:
            outcomes.append(RowOutcome(row=line, outcome="invalid", errors=_row_errors(error)))
            continue
        key = (fold(fields.first_name), fold(fields.last_name), fields.date_of_birth)
        if key in seen:
            outcomes.append(RowOutcome(row=line, outcome="duplicate", duplicate_of=[seen[key]]))
            continue
        existing = await find_possible_duplicates(
            db, fields.first_name, fields.last_name, fields.date_of_birth
        )
        if existing:
            outcomes.append(
                RowOutcome(row=line, outcome="duplicate", duplicate_of=sorted(r.id for r in existing))
            )
            continue
        # A savepoint per row: the recipient and its audit entry are written together or not at all.
        async with db.begin_nested():
            recipient = Recipient(**fields.model_dump(), created_by=user_id)
            recipient.refresh_search_keys()
            db.add(recipient)
            await db.flush()
            audit(
                db,
                actor=actor,
                location_id=location_id,
                entity="recipient",
                entity_id=recipient.id,
                action="register",
                changes=diff({}, snapshot(recipient)),
                reason=f"CSV upload {filename} row {line}".strip(),
            )
            await db.flush()
        seen[key] = recipient.id
        outcomes.append(RowOutcome(row=line, outcome="created", recipient_id=recipient.id))
    return outcomes


def report(outcomes: list[RowOutcome]) -> UploadReport:
    return UploadReport(
        rows=len(outcomes),
        created=sum(o.outcome == "created" for o in outcomes),
        duplicates=sum(o.outcome == "duplicate" for o in outcomes),
        invalid=sum(o.outcome == "invalid" for o in outcomes),
        outcomes=outcomes,
    )


@router.post("/upload", response_model=UploadReport)
async def upload_recipients(
    actor: Manager,
    db: SessionDep,
    file: Annotated[UploadFile, File(description="CSV with a header row of registration field names")],
) -> UploadReport:
    """Registers every valid, new row; flags duplicates and invalid rows with the reason."""
    rows = read_rows(_decode(await file.read(MAX_UPLOAD_BYTES + 1)))
    outcomes = await register_rows(
        db,
        rows,
        first_line=2,
        actor=actor.actor,
        user_id=actor.user.id,
        location_id=actor.location.id,
        filename=file.filename or "",
    )
    return report(outcomes)


# --------------------------------------------------------------------------- in the background


class UploadOut(BaseModel):
    id: int
    filename: str
    status: str  # processing / done
    total_rows: int
    done_rows: int
    created: int
    duplicates: int
    invalid: int
    created_at: datetime
    finished_at: datetime | None
    outcomes: list[RowOutcome] = Field(
        description="the rows done so far, in file order (unless outcomes=false)"
    )


async def load_upload(upload_id: RecordId, actor: Manager, db: SessionDep) -> RecipientUpload:
    """An upload of the active location; another location's is a 404."""
    upload = (
        await db.execute(
            select(RecipientUpload).where(
                RecipientUpload.id == upload_id, RecipientUpload.location_id == actor.location.id
            )
        )
    ).scalar_one_or_none()
    if upload is None:
        raise NotFound("no such upload at this location")
    return upload


UploadDep = Annotated[RecipientUpload, Depends(load_upload)]


async def upload_out(db: AsyncSession, upload: RecipientUpload, *, outcomes: bool = True) -> UploadOut:
    counts = dict(
        (
            await db.execute(
                select(UploadRow.outcome, func.count())
                .where(UploadRow.upload_id == upload.id)
                .group_by(UploadRow.outcome)
            )
        ).all()
    )
    rows: list[RowOutcome] = []
    if outcomes:
        found = await db.execute(
            select(UploadRow).where(UploadRow.upload_id == upload.id).order_by(UploadRow.row)
        )
        rows = [
            RowOutcome(
                row=r.row,
                outcome=r.outcome,  # type: ignore[arg-type]
                recipient_id=r.recipient_id,
                duplicate_of=r.duplicate_of,
                errors=[RowError(**e) for e in r.errors],
            )
            for r in found.scalars()
        ]
    return UploadOut(
        id=upload.id,
        filename=upload.filename,
        status=upload.status,
        total_rows=upload.total_rows,
        done_rows=upload.done_rows,
        created=counts.get("created", 0),
        duplicates=counts.get("duplicate", 0),
        invalid=counts.get("invalid", 0),
        created_at=upload.created_at,
        finished_at=upload.finished_at,
        outcomes=rows,
    )


@router.post("/uploads", response_model=UploadOut, status_code=202)
async def start_upload(
    actor: Manager,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    file: Annotated[UploadFile, File(description="CSV with a header row of registration field names")],
) -> UploadOut:
    """Checks the file (size, UTF-8, header, at most MAX_ROWS rows: a 422 keeps nothing), keeps it
    and starts registering it in the background; poll GET /recipients/uploads/{id} for progress."""
    text = _decode(await file.read(MAX_UPLOAD_BYTES + 1))
    rows = read_rows(text)
    if not rows:
        raise Unprocessable("the file has a header row but no recipients", code="csv_empty")
    upload = RecipientUpload(
        location_id=actor.location.id,
        created_by=actor.user.id,
        filename=(file.filename or "recipients.csv")[:200],
        content=text,
        total_rows=len(rows),
        done_rows=0,
        status=UploadStatus.processing.value,
    )
    db.add(upload)
    await db.flush()
    audit(
        db,
        actor=actor.actor,
        location_id=actor.location.id,
        entity="recipient_upload",
        entity_id=upload.id,
        action="upload",
        changes={"filename": [None, upload.filename], "rows": [None, upload.total_rows]},
    )
    # Started before this request commits, so a Temporal that cannot take it leaves no upload
    # behind; its first step waits (retrying) until the upload it was started for is committed.
    await temporal.start(
        RecipientUploadWorkflow.run,
        UploadInput(
            upload_id=upload.id,
            chunk_rows=settings.upload_chunk_rows,
            pause_seconds=settings.upload_chunk_pause_seconds,
        ),
        workflow_id=upload_workflow_id(upload.id),
    )
    return await upload_out(db, upload)


@router.get("/uploads", response_model=list[UploadOut])
async def list_uploads(actor: Manager, db: SessionDep) -> list[UploadOut]:
    """This location's 20 most recent background uploads, newest first (counts only)."""
    found = await db.execute(
        select(RecipientUpload)
        .where(RecipientUpload.location_id == actor.location.id)
        .order_by(RecipientUpload.id.desc())
        .limit(20)
    )
    return [await upload_out(db, upload, outcomes=False) for upload in found.scalars()]


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def read_upload(
    upload_id: RecordId, actor: Manager, upload: UploadDep, db: SessionDep, outcomes: bool = True
) -> UploadOut:
    """Progress (done_rows of total_rows, status) and, unless outcomes=false, each row's outcome so far."""
    return await upload_out(db, upload, outcomes=outcomes)
