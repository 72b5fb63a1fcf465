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

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from api.deps import Manager, RecordId, SessionDep, SettingsDep, TemporalDep
from api.recipients.deps import UploadDep
from api.recipients.schemas import UploadOut, UploadReport
from services import uploads
from services.uploads import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/recipients", tags=["recipients"])


@router.post("/upload", response_model=UploadReport)
async def upload_recipients(
    actor: Manager,
    db: SessionDep,
    file: Annotated[UploadFile, File(description="CSV with a header row of registration field names")],
) -> UploadReport:
    """Registers every valid, new row; flags duplicates and invalid rows with the reason."""
    return await uploads.upload_now(db, actor, await file.read(MAX_UPLOAD_BYTES + 1), file.filename or "")


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
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    return await uploads.start_upload(db, actor, settings, temporal, raw=raw, filename=file.filename)


@router.get("/uploads", response_model=list[UploadOut])
async def list_uploads(actor: Manager, db: SessionDep) -> list[UploadOut]:
    """This location's 20 most recent background uploads, newest first (counts only)."""
    return await uploads.recent_uploads(db, actor)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def read_upload(
    upload_id: RecordId, actor: Manager, upload: UploadDep, db: SessionDep, outcomes: bool = True
) -> UploadOut:
    """Progress (done_rows of total_rows, status) and, unless outcomes=false, each row's outcome so far."""
    return await uploads.upload_out(db, upload, outcomes=outcomes)
