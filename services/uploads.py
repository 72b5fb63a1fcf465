"""Recipient CSV uploads: check a file, register it at once, or keep it and start the workflow
that registers it a chunk of rows at a time (`recipient-upload-<id>`), and read its progress.

Reading the rows and registering them lives on the records floor (records/uploads.py), which
the workflow's activity uses too.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Invalid
from domain.settings import Settings
from domain.text import clean_filename
from domain.uploads import UploadInput, UploadStatus, upload_workflow_id
from records.audit import audit
from records.uploads import (
    Outcome,
    RecipientUpload,
    RowError,
    RowOutcome,
    UploadRow,
    read_rows,
    register_rows,
)
from services.access import Acting
from services.temporal import TemporalGateway
from services.workflow_starts import promise_start
from workflows.uploads import RecipientUploadWorkflow

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class UploadReport(BaseModel):
    rows: int
    created: int
    duplicates: int
    invalid: int
    outcomes: list[RowOutcome]


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


def decode(raw: bytes) -> str:
    """The file's text; read at most MAX_UPLOAD_BYTES + 1 bytes so a larger one is refused."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Invalid(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", code="csv_too_large")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text", code="not_utf8") from None


def report(outcomes: list[RowOutcome]) -> UploadReport:
    return UploadReport(
        rows=len(outcomes),
        created=sum(o.outcome == "created" for o in outcomes),
        duplicates=sum(o.outcome == "duplicate" for o in outcomes),
        invalid=sum(o.outcome == "invalid" for o in outcomes),
        outcomes=outcomes,
    )


async def upload_now(db: AsyncSession, actor: Acting, raw: bytes, filename: str) -> UploadReport:
    """Registers every valid, new row of the file in this transaction; flags the others."""
    rows = read_rows(decode(raw))
    outcomes = await register_rows(
        db,
        rows,
        first_line=2,
        actor=actor.actor,
        user_id=actor.user.id,
        location_id=actor.location.id,
        filename=clean_filename(filename, fallback="recipients.csv"),
    )
    return report(outcomes)


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
                outcome=cast(Outcome, r.outcome),
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


async def start_upload(
    db: AsyncSession,
    actor: Acting,
    settings: Settings,
    temporal: TemporalGateway,
    *,
    raw: bytes,
    filename: str | None,
) -> UploadOut:
    """Checks the file (size, UTF-8, header, at most MAX_ROWS rows: a refusal keeps nothing), keeps it
    and starts registering it in the background."""
    text = decode(raw)
    rows = read_rows(text)
    if not rows:
        raise Invalid("the file has a header row but no recipients", code="csv_empty")
    upload = RecipientUpload(
        location_id=actor.location.id,
        created_by=actor.user.id,
        filename=clean_filename(filename or "", fallback="recipients.csv"),
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
    # Promised in this transaction (no call to Temporal while it holds the write lock): started
    # after commit, or by the worker's reconciler when Temporal is away.
    await promise_start(
        db,
        temporal,
        None,
        run=RecipientUploadWorkflow.run,
        argument=UploadInput(
            upload_id=upload.id,
            chunk_rows=settings.upload_chunk_rows,
            pause_seconds=settings.upload_chunk_pause_seconds,
        ),
        workflow_id=upload_workflow_id(upload.id),
    )
    return await upload_out(db, upload)


async def recent_uploads(db: AsyncSession, actor: Acting) -> list[UploadOut]:
    """This location's 20 most recent background uploads, newest first (counts only)."""
    found = await db.execute(
        select(RecipientUpload)
        .where(RecipientUpload.location_id == actor.location.id)
        .order_by(RecipientUpload.id.desc())
        .limit(20)
    )
    return [await upload_out(db, upload, outcomes=False) for upload in found.scalars()]
