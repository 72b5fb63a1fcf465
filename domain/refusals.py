"""Refusals: why a request cannot be done, as a kind, a code, a message and details.

Services, workflows and activities raise these; they say nothing of HTTP. The API
alone turns a refusal's kind (or, for a few codes, the code) into a status
(``api/errors.py``). A workflow or activity carries a refusal across Temporal as a
non-retryable ``ApplicationError`` of type ``REFUSED`` (see ``as_application_error``);
the Temporal gateway turns it back into a ``Refusal``.
"""

from __future__ import annotations

from typing import Any, Literal

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

RefusalKind = Literal[
    "invalid",  # the request itself is wrong (a field, a value)
    "unauthenticated",  # who is asking is not known
    "forbidden",  # known, but may not do this
    "not_found",  # no such record (or not at the caller's location)
    "conflict",  # the state of things does not allow it now
    "gone",  # it was there and has expired
    "throttled",  # too many attempts
    "unavailable",  # a part of the system does not answer; try again
]

REFUSED = "JourneyRefused"  # ApplicationError type of a refusal carried by Temporal


class Refusal(Exception):
    """A request that cannot be done; ``details`` are structured facts for the caller."""

    kind: RefusalKind = "conflict"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra: dict[str, Any] = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class Invalid(Refusal):
    kind = "invalid"


class Unauthenticated(Refusal):
    kind = "unauthenticated"


class Forbidden(Refusal):
    kind = "forbidden"


class NotFound(Refusal):
    kind = "not_found"


class Conflict(Refusal):
    kind = "conflict"


class Gone(Refusal):
    kind = "gone"


class Throttled(Refusal):
    kind = "throttled"


class Unavailable(Refusal):
    kind = "unavailable"


BY_KIND: dict[str, type[Refusal]] = {
    cls.kind: cls
    for cls in (Invalid, Unauthenticated, Forbidden, NotFound, Conflict, Gone, Throttled, Unavailable)
}


def refused(code: str, message: str, kind: RefusalKind = "conflict", **details: Any) -> ApplicationError:
    """A refusal as a workflow or activity raises it: final, and not a failure of the system."""
    return ApplicationError(
        message,
        {"code": code, "kind": kind, **details},
        type=REFUSED,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def as_application_error(refusal: Refusal) -> ApplicationError:
    return refused(refusal.code or refusal.kind, refusal.message, refusal.kind, **refusal.extra)


def from_application_error(error: ApplicationError) -> Refusal:
    """The refusal an ``ApplicationError`` of type ``REFUSED`` carries."""
    info = dict(error.details[0]) if error.details else {}
    kind = str(info.pop("kind", "conflict"))
    code = info.pop("code", None)
    return BY_KIND.get(kind, Conflict)(error.message, code=code, **info)
