"""Every file the API sends back (help-desk attachments, PDFs, exports) goes out through here, with
an RFC 6266 Content-Disposition: a plain-ASCII `filename` for old clients and the real name, UTF-8
and percent-encoded, in `filename*`. A name with a line break, a NUL or a quote cannot break the
header, and a name in any script downloads under its own name."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from fastapi import Response

from domain.text import clean_filename


def _ascii_fallback(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = "".join(ch if ch.isprintable() and ch not in '"\\;' else "_" for ch in folded).strip()
    return plain if plain.strip("._ ") else "download" + ("." + name.rsplit(".", 1)[1] if "." in name else "")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    name = clean_filename(filename, fallback="download")
    fallback = _ascii_fallback(name)
    if not fallback.isascii():  # an extension in another script
        fallback = "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download(
    content: str | bytes, media_type: str, filename: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": content_disposition(filename), **(headers or {})},
    )
