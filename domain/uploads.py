"""domain.uploads."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class UploadStatus(enum.StrEnum):
    processing = "processing"
    done = "done"


def upload_workflow_id(upload_id: int) -> str:
    return f"recipient-upload-{upload_id}"


@dataclass(frozen=True)
class UploadInput:
    upload_id: int
    chunk_rows: int
    pause_seconds: float


@dataclass(frozen=True)
class UploadProgress:
    upload_id: int
    done_rows: int
    total_rows: int
    finished: bool
