"""A recipient CSV upload registered in the background (`recipient-upload-<id>`).

One activity per chunk of rows (activities/uploads.py), each its own transaction with the
upload's progress, until every row is done; an optional pause between chunks leaves the
database to the people booking and documenting meanwhile. The state is in the records, so a
restarted worker or server carries on from the last chunk committed.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.uploads import UploadActivities
    from domain.uploads import UploadInput, UploadProgress

SYSTEM_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
CHUNK_TIMEOUT = timedelta(minutes=2)


@workflow.defn
class RecipientUploadWorkflow:
    @workflow.run
    async def run(self, input: UploadInput) -> UploadProgress:
        while True:
            progress: UploadProgress = await workflow.execute_activity_method(
                UploadActivities.register_chunk,
                input,
                start_to_close_timeout=CHUNK_TIMEOUT,
                retry_policy=SYSTEM_RETRY,
            )
            if progress.finished:
                return progress
            if input.pause_seconds > 0:
                await workflow.sleep(timedelta(seconds=input.pause_seconds))
