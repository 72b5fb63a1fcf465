"""Case attachments: checked against the settings' type and size limits, their contents kept in
the attachment store (records.attachment_store), their rows in the database; read back only by
callers that have already found the case as its requester or one of its team's agents."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.refusals import Invalid
from domain.settings import Settings
from domain.text import clean_filename
from records.attachment_store import attachment_store, new_key
from records.helpdesk import Case, CaseAttachment


@dataclass(frozen=True)
class Upload:
    """An attachment as given in JSON (base64), not yet checked."""

    filename: str
    content_type: str
    content_base64: str


@dataclass(frozen=True)
class FileIn:
    """An attachment's bytes as received (a form upload or an email part), not yet checked."""

    filename: str
    content_type: str
    data: bytes


def _type_of(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def refusal(given: FileIn, settings: Settings) -> Invalid | None:
    """Why this file may not be attached (None: it may)."""
    if _type_of(given.content_type) not in settings.helpdesk_attachment_type_list:
        allowed = ", ".join(sorted(settings.helpdesk_attachment_type_list))
        return Invalid(f"attachments must be one of: {allowed}", code="attachment_type")
    if len(given.data) > settings.helpdesk_attachment_max_bytes:
        return Invalid(
            f"attachments may be at most {settings.helpdesk_attachment_max_bytes} bytes",
            code="attachment_size",
        )
    if not given.data:
        return Invalid("the attachment is empty", code="attachment_empty")
    return None


def decoded(given: Upload, settings: Settings) -> FileIn:
    """A JSON attachment's bytes, checked (the size before decoding, so a huge text is not decoded)."""
    wrong_type = refusal(FileIn(given.filename, given.content_type, b"?"), settings)
    if wrong_type:
        raise wrong_type
    if len(given.content_base64) > (settings.helpdesk_attachment_max_bytes * 4) // 3 + 4:
        too_large = f"attachments may be at most {settings.helpdesk_attachment_max_bytes} bytes"
        raise Invalid(too_large, code="attachment_size")
    try:
        data = base64.b64decode(given.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid("the attachment is not valid base64", code="attachment_encoding") from exc
    checked = FileIn(given.filename, given.content_type, data)
    problem = refusal(checked, settings)
    if problem:
        raise problem
    return checked


def checked(files: list[FileIn], settings: Settings) -> list[FileIn]:
    """All of them, or a refusal for the first that may not be attached (nothing kept)."""
    for given in files:
        problem = refusal(given, settings)
        if problem:
            raise problem
    return files


async def keep(
    db: AsyncSession,
    settings: Settings,
    case: Case,
    given: FileIn,
    *,
    added_by: str,
    text_id: int | None = None,
) -> CaseAttachment:
    """Writes the contents to the store, then adds the row in the caller's transaction (a rolled
    back transaction leaves an unreferenced file, never a row without its contents)."""
    key = new_key(case.id)
    await attachment_store(settings).put(key, given.data)
    row = CaseAttachment(
        case_id=case.id,
        filename=clean_filename(given.filename) or "attachment",
        content_type=_type_of(given.content_type),
        size=len(given.data),
        storage_key=key,
        data=None,
        added_by=added_by,
        text_id=text_id,
    )
    db.add(row)
    return row


async def contents(settings: Settings, attachment: CaseAttachment) -> bytes:
    if attachment.storage_key:
        return await attachment_store(settings).get(attachment.storage_key)
    return attachment.data or b""  # kept in its row before the store existed
