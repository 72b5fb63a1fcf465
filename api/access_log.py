"""The access log never holds a secret: a recipient link's token (/r/<kind>/<token>/…) and a
set-password token (?token=…) are written as `<token>`. Installed on uvicorn's access logger by
the app itself, so `cvms api`, `make dev` and a bare `uvicorn api.main:app` all log this way."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "<token>"
# Every recipient link route carries its signed token right after its kind.
_LINK_PATH = re.compile(r"^(/r/[^/?]+/)([^/?]+)")
_SECRET_QUERY_NAMES = frozenset({"token"})


def redact(path: str) -> str:
    """'/r/book/eyJ…/holds/3?token=abc&x=1' -> '/r/book/<token>/holds/3?token=<token>&x=1'."""
    path_part, question, query = path.partition("?")
    path_part = _LINK_PATH.sub(lambda m: m.group(1) + REDACTED, path_part)
    if question and any(name in _SECRET_QUERY_NAMES for name, _ in parse_qsl(query)):
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(name, REDACTED if name in _SECRET_QUERY_NAMES else value) for name, value in pairs], safe="<>"
        )
    return path_part + question + query


class RedactTokens(logging.Filter):
    """Rewrites the path of uvicorn's access record: args (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
