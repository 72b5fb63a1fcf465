"""Every error is JSON: {"detail": message, "code": ..., "errors": [...]} with the right status.

The one place where a refusal (``domain/refusals.py``) becomes an HTTP status.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.refusals import (
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Refusal,
    Throttled,
    Unauthenticated,
    Unavailable,
)

# The names the routes and pages use for the refusals they raise and catch.
ApiError = Refusal
Unprocessable = Invalid
Unauthorized = Unauthenticated
TooManyRequests = Throttled
ServiceUnavailable = Unavailable

__all__ = [
    "ApiError",
    "Conflict",
    "Forbidden",
    "Gone",
    "NotFound",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "http_status",
    "install_error_handlers",
]

STATUS_BY_KIND: dict[str, int] = {
    "invalid": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "unauthenticated": status.HTTP_401_UNAUTHORIZED,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    "conflict": status.HTTP_409_CONFLICT,
    "gone": status.HTTP_410_GONE,
    "throttled": status.HTTP_429_TOO_MANY_REQUESTS,
    "unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
}


def http_status(refusal: Refusal) -> int:
    return STATUS_BY_KIND.get(refusal.kind, status.HTTP_400_BAD_REQUEST)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refused(request: Request, exc: Refusal) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.message}
        if exc.code:
            body["code"] = exc.code
        body.update(exc.extra)
        code = http_status(exc)
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        if code == 503:
            # Temporal or the worker away: tell the client when asking again makes sense.
            headers = {"Retry-After": str(exc.extra.get("retry_after", 5))}
        return JSONResponse(body, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(tuple(err.get("loc", ()))), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(
            {"detail": f"invalid input: {summary}", "errors": errors},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # A number (usually an id in the path) beyond what the database column holds.
        return JSONResponse(
            {"detail": "a number in the request is out of range", "code": "out_of_range"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("cvms.api").exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)
