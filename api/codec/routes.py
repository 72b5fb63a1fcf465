"""The payload codec for the Temporal Web UI (`--ui-codec-endpoint`): programme administrators
only, since what it opens is every workflow's data. Cross-origin calls from the UI's origin are
allowed by `install_codec_cors` (CVMS_TEMPORAL_UI_ORIGINS), and by nothing else."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.codec.schemas import CodecPayloads
from api.deps import Admin, SettingsDep
from services.payload_codec import run_codec
from services.temporal import payload_codec

router = APIRouter(prefix="/codec", tags=["codec"])
ALLOWED_HEADERS = "Content-Type, Authorization, X-Namespace, Caller-Type"


async def _run(body: CodecPayloads, settings: SettingsDep, *, decode: bool) -> CodecPayloads:
    given = [p.model_dump() for p in body.payloads]
    done = await run_codec(payload_codec(settings), given, decode=decode)
    return CodecPayloads.model_validate({"payloads": done})


@router.post("/decode", response_model=CodecPayloads)
async def decode(body: CodecPayloads, _admin: Admin, settings: SettingsDep) -> CodecPayloads:
    """Opens sealed payloads (unsealed ones come back as they are)."""
    return await _run(body, settings, decode=True)


@router.post("/encode", response_model=CodecPayloads)
async def encode(body: CodecPayloads, _admin: Admin, settings: SettingsDep) -> CodecPayloads:
    """Seals payloads with the current key (what the Web UI sends to a workflow)."""
    return await _run(body, settings, decode=False)


class CodecCors:
    """Pure ASGI (a BaseHTTPMiddleware costs every request a task group and memory streams):
    requests to /codec/ from an allowed origin get the CORS headers; a preflight is answered here."""

    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/codec/"):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin", "")
        if origin not in self.origins:
            await self.app(scope, receive, send)
            return
        cors = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]
        if scope["method"] == "OPTIONS":  # the preflight
            preflight = Response(status_code=204)
            preflight.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            preflight.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            preflight.headers["Access-Control-Max-Age"] = "600"
            for name, value in cors:
                preflight.headers[name] = value
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in cors:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_cors)


def install_codec_cors(app: FastAPI, origins: list[str]) -> None:
    """CORS for the codec paths only, for the Web UI's origins only, with credentials (the UI
    sends the administrator's session cookie or bearer token). Without such origins there is
    nothing to add to any response, and no middleware."""
    if origins:
        app.add_middleware(CodecCors, origins=frozenset(origins))
