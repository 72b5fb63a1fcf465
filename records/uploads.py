"""Recipient CSV uploads that run in the background: the file, how far its rows have got, and
each row's outcome. A chunk of rows is registered and its progress advanced in one transaction,
so the outcome rows, the recipients they created and `done_rows` never disagree."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from domain.recipients import RecipientFields, fold
from domain.refusals import Invalid
from domain.uploads import UploadStatus
from records.db import Base, UTCDateTime, utcnow
from records.recipients import add_recipient, find_possible_duplicates

MAX_ROWS = 10_000
REQUIRED_COLUMNS = {"first_name", "last_name", "date_of_birth", "sex"}
KNOWN_COLUMNS = set(RecipientFields.model_fields)
# The column the failed-rows download adds (what was wrong); the file, fixed, uploads again as is.
PROBLEM_COLUMN = "problem"

Outcome = Literal["created", "duplicate", "invalid"]


class RecipientUpload(Base):
    __tablename__ = "recipient_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)  # the CSV as uploaded (UTF-8 text)
    total_rows: Mapped[int] = mapped_column(Integer)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=UploadStatus.processing.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UploadRow(Base):
    """One row's outcome: created (recipient_id), duplicate (duplicate_of) or invalid (errors)."""

    __tablename__ = "recipient_upload_rows"

    upload_id: Mapped[int] = mapped_column(ForeignKey("recipient_uploads.id"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)  # line in the file; the header is 1
    outcome: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duplicate_of: Mapped[list[int]] = mapped_column(JSON, default=list)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


# --------------------------------------------------------------------------- reading and registering rows


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


def _row_errors(error: ValidationError) -> list[RowError]:
    return [
        RowError(field=".".join(str(p) for p in e["loc"]) or "row", message=e["msg"], code=e["type"])
        for e in error.errors()
    ]


def read_rows(text: str) -> list[dict[str, Any]]:
    """The rows of a CSV text whose header names registration fields (a bad header is a 422)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = sorted(REQUIRED_COLUMNS - set(columns))
    unknown = sorted(set(columns) - KNOWN_COLUMNS - {PROBLEM_COLUMN})
    if missing or unknown:  # every column problem at once
        raise Invalid(
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
            raise Invalid(f"at most {MAX_ROWS} rows per upload", code="csv_too_long")
        values.pop(PROBLEM_COLUMN, None)
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
            recipient = await add_recipient(
                db,
                fields.model_dump(),
                created_by=user_id,
                actor=actor,
                location_id=location_id,
                reason=f"CSV upload {filename} row {line}".strip(),
            )
            await db.flush()
        seen[key] = recipient.id
        outcomes.append(RowOutcome(row=line, outcome="created", recipient_id=recipient.id))
    return outcomes
