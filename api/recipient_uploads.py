"""Bulk registration: a location manager uploads recipients as CSV (the registration fields).

Every row is validated exactly like a registration. A row that names a person
already registered (same name and date of birth), or repeats an earlier row of
the same file, is flagged as a duplicate and not created. Each good row is
written in its own savepoint, so a row is either wholly created (recipient and
audit entry) or not at all; the response lists every row's outcome.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, ValidationError

from api.deps import Manager, SessionDep
from api.errors import Unprocessable
from api.recipients import RecipientFields, find_possible_duplicates, snapshot
from records.audit import audit, diff
from records.recipients import Recipient, fold

router = APIRouter(prefix="/recipients", tags=["recipients"])

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
REQUIRED_COLUMNS = {"first_name", "last_name", "date_of_birth", "sex"}
KNOWN_COLUMNS = set(RecipientFields.model_fields)

Outcome = Literal["created", "duplicate", "invalid"]


class RowError(BaseModel):
    field: str
    message: str


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
        RowError(field=".".join(str(p) for p in e["loc"]) or "row", message=e["msg"]) for e in error.errors()
    ]


def _read_rows(raw: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable("the file is not UTF-8 text", code="not_utf8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = REQUIRED_COLUMNS - set(columns)
    if missing:
        raise Unprocessable(
            f"the header row lacks {', '.join(sorted(missing))}",
            code="csv_columns",
            errors=[{"field": name, "message": "missing column"} for name in sorted(missing)],
        )
    unknown = set(columns) - KNOWN_COLUMNS
    if unknown:
        raise Unprocessable(
            f"unknown columns: {', '.join(sorted(unknown))}",
            code="csv_columns",
            errors=[{"field": name, "message": "unknown column"} for name in sorted(unknown)],
        )
    reader.fieldnames = columns
    rows = []
    for values in reader:
        if len(rows) >= MAX_ROWS:
            raise Unprocessable(f"at most {MAX_ROWS} rows per upload", code="csv_too_long")
        rows.append(values)
    return columns, rows


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


@router.post("/upload", response_model=UploadReport)
async def upload_recipients(
    actor: Manager,
    db: SessionDep,
    file: Annotated[UploadFile, File(description="CSV with a header row of registration field names")],
) -> UploadReport:
    """Registers every valid, new row; flags duplicates and invalid rows with the reason."""
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Unprocessable(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", code="csv_too_large")
    _columns, rows = _read_rows(raw)
    seen: dict[tuple[str, str, date], int] = {}  # person key -> recipient id created by this file
    outcomes: list[RowOutcome] = []
    for line, values in enumerate(rows, start=2):
        if None in values:
            outcomes.append(
                RowOutcome(
                    row=line,
                    outcome="invalid",
                    errors=[RowError(field="row", message="more cells than header columns")],
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
            recipient = Recipient(**fields.model_dump(), created_by=actor.user.id)
            recipient.refresh_search_keys()
            db.add(recipient)
            await db.flush()
            audit(
                db,
                actor=actor.actor,
                location_id=actor.location.id,
                entity="recipient",
                entity_id=recipient.id,
                action="register",
                changes=diff({}, snapshot(recipient)),
                reason=f"CSV upload {file.filename or ''} row {line}".strip(),
            )
            await db.flush()
        seen[key] = recipient.id
        outcomes.append(RowOutcome(row=line, outcome="created", recipient_id=recipient.id))
    return UploadReport(
        rows=len(outcomes),
        created=sum(o.outcome == "created" for o in outcomes),
        duplicates=sum(o.outcome == "duplicate" for o in outcomes),
        invalid=sum(o.outcome == "invalid" for o in outcomes),
        outcomes=outcomes,
    )
