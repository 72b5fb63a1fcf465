"""The files chosen in a page form's file input, as the services take them."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile

from services.helpdesk_files import FileIn

# The request body is already capped (CVMS_MAX_UPLOAD_BYTES); a file is never read past this.
MAX_FILE_READ = 64 * 1024 * 1024


async def form_files(form: Any, name: str = "attachments") -> list[FileIn]:
    """The files chosen in a form's file input (none chosen: an empty list)."""
    files = []
    for item in form.getlist(name):
        if isinstance(item, UploadFile) and item.filename:
            data = await item.read(MAX_FILE_READ)
            files.append(FileIn(item.filename, item.content_type or "application/octet-stream", data))
    return files
