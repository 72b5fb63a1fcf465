"""The background CSV upload's one step: register the next chunk of rows.

A chunk's recipients, its rows' outcomes and the upload's progress are written in one
transaction, conditional on the progress it started from, so a retried or duplicated step
(a worker killed after commit, an attempt that timed out but went on) registers no row twice:
the late one finds the progress moved on and rolls back.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.settings import Settings
from domain.uploads import UploadInput, UploadProgress, UploadStatus
from records.db import utcnow
from records.uploads import RecipientUpload, UploadRow, read_rows, register_rows

# A workflow may start before the request that made the upload commits; past this many
# attempts the upload is taken to be gone (that request rolled back).
MISSING_ATTEMPTS = 20


class _Overtaken(Exception):
    """Another attempt advanced the upload first; this one's writes are rolled back."""


class UploadActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    @activity.defn
    async def register_chunk(self, input: UploadInput) -> UploadProgress:
        """Registers up to chunk_rows rows after those done; finished once every row is done."""
        try:
            async with self.sessions() as db, db.begin():
                return await self._chunk(db, input)
        except _Overtaken:
            async with self.sessions() as db:
                upload = await db.get(RecipientUpload, input.upload_id)
                assert upload is not None
                return _progress(upload)

    async def _chunk(self, db: AsyncSession, input: UploadInput) -> UploadProgress:
        upload = await db.get(RecipientUpload, input.upload_id)
        if upload is None:
            raise ApplicationError(
                f"no upload {input.upload_id} (yet)",
                non_retryable=activity.info().attempt >= MISSING_ATTEMPTS,
            )
        start = upload.done_rows
        if upload.status == UploadStatus.done:
            return _progress(upload)
        rows = read_rows(upload.content)[start : start + max(input.chunk_rows, 1)]
        outcomes = await register_rows(
            db,
            rows,
            first_line=start + 2,  # the header is line 1
            actor=f"user:{upload.created_by}",
            user_id=upload.created_by,
            location_id=upload.location_id,
            filename=upload.filename,
        )
        for outcome in outcomes:
            db.add(
                UploadRow(
                    upload_id=upload.id,
                    row=outcome.row,
                    outcome=outcome.outcome,
                    recipient_id=outcome.recipient_id,
                    duplicate_of=outcome.duplicate_of,
                    errors=[e.model_dump() for e in outcome.errors],
                )
            )
        done = start + len(rows)
        finished = done >= upload.total_rows
        advanced = await db.execute(
            update(RecipientUpload)
            .where(RecipientUpload.id == upload.id, RecipientUpload.done_rows == start)
            .values(
                done_rows=done,
                status=(UploadStatus.done if finished else UploadStatus.processing).value,
                finished_at=utcnow() if finished else None,
            )
            .execution_options(synchronize_session=False)
        )
        if advanced.rowcount != 1:
            raise _Overtaken()
        return UploadProgress(upload.id, done, upload.total_rows, finished)


def _progress(upload: RecipientUpload) -> UploadProgress:
    return UploadProgress(upload.id, upload.done_rows, upload.total_rows, upload.status == UploadStatus.done)
