"""The finder's responses are the same for everyone, so a CDN may keep them: a short s-maxage
(CVMS_FINDER_CACHE_SECONDS) with stale-while-revalidate, and an ETag that turns a repeated
request into a 304 without a body."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

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
    tag = etag_of(bytes(response.body))
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


def answer_key(scope: Scope) -> str:
    """What makes two finder questions the same: the path and the query, as sent."""
    query = scope.get("query_string", b"").decode("latin-1")
    return scope["path"] + ("?" + query if query else "")


@dataclass(frozen=True)
class KeptAnswer:
    expires: float
    body: bytes
    etag: str
    route: Any  # the route that gave it, so the metrics count a kept answer under it

    def headers(self, cache_control: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"application/json"),
            (b"etag", self.etag.encode()),
            (b"cache-control", cache_control.encode()),
            (b"vary", b"Accept-Language, Cookie"),
        ]


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class RecentAnswers:
    """The finder's JSON answers this process gave in the last CVMS_FINDER_SERVER_CACHE_SECONDS, by
    address: a surge asking the same question reads the database about once a second per process
    (0 turns it off), and FinderFastLane answers the repeats before routing."""

    def __init__(self, limit: int = 1024) -> None:
        self.kept: dict[str, KeptAnswer] = {}
        self.limit = limit

    def get(self, key: str) -> KeptAnswer | None:
        found = self.kept.get(key)
        if found is None or found.expires < time.monotonic():
            return None
        return found

    def put(self, key: str, body: bytes, route: Any, seconds: float) -> None:
        if seconds <= 0:
            return
        if len(self.kept) >= self.limit:
            self.kept.clear()
        self.kept[key] = KeptAnswer(time.monotonic() + seconds, body, etag_of(body), route)


recent = RecentAnswers()
FAST_PATHS = frozenset({"/public/locations"})


class FinderFastLane:
    """Pure ASGI middleware: a GET of a finder answer this process kept (RecentAnswers) is sent from
    here, before routing, dependencies and a database session: the same bytes, ETag (304 when the
    client has it) and Cache-Control the route gives. Everything else passes through untouched."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.cache_control = cache_control(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in FAST_PATHS:
            kept = recent.get(answer_key(scope))
            if kept is not None:
                scope["route"] = kept.route
                await self.send_kept(scope, kept, send)
                return
        await self.app(scope, receive, send)

    async def send_kept(self, scope: Scope, kept: KeptAnswer, send: Send) -> None:
        headers = kept.headers(self.cache_control)
        sent = b""
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                sent = value
        if sent and kept.etag.encode() in [tag.strip().removeprefix(b"W/") for tag in sent.split(b",")]:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers.append((b"content-length", str(len(kept.body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": kept.body})
