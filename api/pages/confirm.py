"""Asking once before a change that cannot be taken back (cancel an appointment, close a slot,
remove a user, remove a dose in error), without JavaScript: the button's first post answers
with a confirm step page, whose form posts again with `confirmed=yes` and, where the API
records one, the reason. Only that second post changes anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from api.deps import Actor
from api.pages.i18n import N_
from api.pages.rendering import render

CONFIRMED = "confirmed"
REASON_MAX = 500


@dataclass(frozen=True)
class Confirm:
    action: str  # where the confirmed form posts (the button's own address)
    heading: str  # N_ text: the question
    button: str  # N_ text: the button that does it
    back: str  # where "keep it" leads
    subject: str  # what the change is about (a name, a product), shown under the heading
    when: datetime | None = None
    lead: str | None = None  # N_ text: what follows from it
    reason: str | None = None  # N_ label of the reason asked for; None: none is asked


def confirmed(form: FormData) -> bool:
    return str(form.get(CONFIRMED, "")) == "yes"


def ask_once(request: Request, actor: Actor, form: FormData, confirm: Confirm) -> Response | str:
    """The confirm step page, or (once confirmed) the reason given ("" when none is asked)."""
    reason = str(form.get("reason", "")).strip()
    if not confirmed(form):
        return _page(request, actor, confirm, reason)
    if confirm.reason is not None and not reason:
        return _page(request, actor, confirm, reason, error=N_("Give the reason."), status_code=422)
    return reason[:REASON_MAX]


def _page(
    request: Request,
    actor: Actor,
    confirm: Confirm,
    reason: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    errors = {"reason": error} if error else {}
    return render(
        request,
        "portal/confirm.html",
        actor=actor,
        status_code=status_code,
        confirm=confirm,
        reason=reason,
        errors=errors,
    )
