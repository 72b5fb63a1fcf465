"""The one place attachment contents live: outside the database rows, which keep only a key.

Development: a folder (CVMS_ATTACHMENT_DIR, under the state folder). Production: the same
setting names a mounted volume, or CVMS_ATTACHMENT_BUCKET names an S3-compatible bucket
(CVMS_ATTACHMENT_S3_ENDPOINT for one that is not AWS; credentials from the usual AWS_*
environment). Keys are made here and never come from a user.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any, Protocol

from domain.settings import Settings


class AttachmentStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


def new_key(case_id: int) -> str:
    return f"cases/{case_id}/{secrets.token_hex(16)}"


class FolderStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        path = (self.folder / key).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise ValueError(f"attachment key outside the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # whole or absent, never half written

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)


class BucketStore:
    """An S3-compatible bucket, through boto3 in a thread (its calls block)."""

    def __init__(self, bucket: str, endpoint: str | None) -> None:
        import boto3

        self.bucket = bucket
        self.client: Any = boto3.client("s3", endpoint_url=endpoint or None)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=key, Body=data)

    async def get(self, key: str) -> bytes:
        answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        return bytes(await asyncio.to_thread(answer["Body"].read))


_stores: dict[tuple[str, str, str], AttachmentStore] = {}


def attachment_store(settings: Settings) -> AttachmentStore:
    """The store the settings name (one per configuration, reused)."""
    folder = settings.attachment_dir or Path(settings.state_dir) / "attachments"
    config = (settings.attachment_bucket, settings.attachment_s3_endpoint, str(folder))
    if config not in _stores:
        if settings.attachment_bucket:
            _stores[config] = BucketStore(settings.attachment_bucket, settings.attachment_s3_endpoint)
        else:
            _stores[config] = FolderStore(Path(folder))
    return _stores[config]
