"""The finder's responses are the same for everyone, so a CDN may keep them: a short s-maxage
(CVMS_FINDER_CACHE_SECONDS) with stale-while-revalidate, and an ETag that turns a repeated
request into a 304 without a body."""

from __future__ import annotations

import hashlib

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
