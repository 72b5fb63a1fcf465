"""Every error is JSON: {"detail": message, "code": ..., "errors": [...]} with the right status.

The one place where a refusal (``domain/refusals.py``) becomes an HTTP status.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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
    "retry_after",
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


# The code a refusal carries when it names none: stable, one per kind.
DEFAULT_CODE_BY_KIND: dict[str, str] = {
    "invalid": "invalid_input",
    "unauthenticated": "unauthenticated",
    "forbidden": "forbidden",
    "not_found": "not_found",
    "conflict": "conflict",
    "gone": "gone",
    "throttled": "too_many_requests",
    "unavailable": "unavailable",
}
# The code of an error Starlette raises itself (an unknown route, a wrong method, ...).
CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def http_status(refusal: Refusal) -> int:
    return STATUS_BY_KIND.get(refusal.kind, status.HTTP_400_BAD_REQUEST)


def refusal_code(refusal: Refusal) -> str:
    return refusal.code or DEFAULT_CODE_BY_KIND.get(refusal.kind, "refused")


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    """The one shape of every error answer."""
    return {"detail": detail, "code": code, **extra}


def retry_after(refusal: Refusal) -> dict[str, str]:
    """The Retry-After header of a throttled refusal that says how long to wait."""
    seconds = refusal.extra.get("retry_after_seconds")
    return {"Retry-After": str(int(seconds))} if refusal.kind == "throttled" and seconds else {}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "request"


def _field_message(err: Any) -> str:
    # A required text field is cleaned (trimmed) first: too short at 1 means it was left blank.
    if err.get("type") in ("string_too_short", "too_short") and (err.get("ctx") or {}).get("min_length") == 1:
        return "required: must not be blank"
    return str(err.get("msg", "invalid"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refused(request: Request, exc: Refusal) -> JSONResponse:
        body = error_body(exc.message, refusal_code(exc), **exc.extra)
        code = http_status(exc)
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else retry_after(exc)
        if code == 503:
            # Temporal or the worker away: tell the client when asking again makes sense.
            headers = {"Retry-After": str(exc.extra.get("retry_after", 5))}
        return JSONResponse(body, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        broken = next((err for err in exc.errors() if err.get("type") == "json_invalid"), None)
        if broken is not None:
            # The loc of a JSON syntax error is ("body", byte position): not a field.
            loc = tuple(broken.get("loc", ()))
            position = loc[-1] if len(loc) > 1 else "?"
            reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
            return JSONResponse(
                error_body(f"the body is not valid JSON: {reason} at position {position}", "invalid_json"),
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        errors = [
            {"field": _field_name(tuple(err.get("loc", ()))), "message": _field_message(err)}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(
            error_body(f"invalid input: {summary}", "invalid_input", errors=errors),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        code = CODE_BY_STATUS.get(exc.status_code, "request_failed")
        return JSONResponse(error_body(detail, code), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # A number (usually an id in the path) beyond what the database column holds.
        return JSONResponse(
            error_body("a number in the request is out of range", "out_of_range"),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        if _database_unreachable(exc):
            # The database refused a connection (full, restarting) or the pool waited too long:
            # nothing was done, so the client may repeat it — a 503, not a 500.
            logging.getLogger("cvms.api").warning("database unavailable on %s: %r", request.url.path, exc)
            return JSONResponse(
                error_body(
                    "the database is not answering just now; try again shortly", "database_unavailable"
                ),
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "2"},
            )
        logging.getLogger("cvms.api").exception("unhandled error on %s", request.url.path)
        return JSONResponse(error_body("internal error", "internal_error"), status_code=500)


def _database_unreachable(exc: BaseException) -> bool:
    """No connection could be had: the pool timed out, or connecting failed before any statement."""
    if isinstance(exc, PoolTimeout | ConnectionRefusedError):
        return True
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or exc.statement is None):
        return True
    return False
