"""The payload codec for the Temporal Web UI (`--ui-codec-endpoint`): programme administrators
only, since what it opens is every workflow's data. Cross-origin calls from the UI's origin are
allowed by `install_codec_cors` (CVMS_TEMPORAL_UI_ORIGINS), and by nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response

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


def install_codec_cors(app: FastAPI, origins: list[str]) -> None:
    """CORS for the codec paths only, for the Web UI's origins only, with credentials (the UI
    sends the administrator's session cookie or bearer token)."""
    allowed = frozenset(origins)

    @app.middleware("http")
    async def codec_cors(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        origin = request.headers.get("origin", "")
        if not request.url.path.startswith("/codec/") or origin not in allowed:
            return await call_next(request)
        if request.method == "OPTIONS":  # the preflight
            response = Response(status_code=204)
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await call_next(request)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
        return response
