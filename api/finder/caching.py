"""The finder's responses are the same for everyone, so a CDN may keep them: a short s-maxage
(CVMS_FINDER_CACHE_SECONDS) with stale-while-revalidate, and an ETag that turns a repeated
request into a 304 without a body."""

from __future__ import annotations

import hashlib
import time

from starlette.requests import Request
from starlette.responses import Response

from domain.settings import Settings

STALE_FACTOR = 6


def cache_control(settings: Settings) -> str:
    fresh = max(0, round(settings.finder_cache_seconds))
    return f"public, max-age=0, s-maxage={fresh}, stale-while-revalidate={fresh * STALE_FACTOR}"


def cacheable(request: Request, response: Response, settings: Settings) -> Response:
    """The response with its ETag and Cache-Control, or a bodiless 304 when the client has it.
    A response that sets a cookie is somebody's own, and stays private."""
    if "set-cookie" in response.headers:
        response.headers["Cache-Control"] = "private, no-store"
        return response
    tag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    headers = {
        "ETag": tag,
        "Cache-Control": cache_control(settings),
        "Vary": "Accept-Language, Cookie",
    }
    if "content-language" in response.headers:
        headers["Content-Language"] = response.headers["content-language"]
    sent = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if tag in sent or f"W/{tag}" in sent:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


class RecentAnswers:
    """The finder's JSON answers this process gave in the last CVMS_FINDER_SERVER_CACHE_SECONDS, by
    address: a surge asking the same question reads the database about once a second per process
    (0 turns it off)."""

    def __init__(self, limit: int = 1024) -> None:
        self.kept: dict[str, tuple[float, bytes]] = {}
        self.limit = limit

    def get(self, key: str) -> bytes | None:
        found = self.kept.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, body: bytes, seconds: float) -> None:
        if seconds <= 0:
            return
        if len(self.kept) >= self.limit:
            self.kept.clear()
        self.kept[key] = (time.monotonic() + seconds, body)


recent = RecentAnswers()
