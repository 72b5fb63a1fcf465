"""Email the API itself originates: written to the outbox in the request's transaction with the
start of its durable one-message workflow promised in the same transaction (services/workflow_starts),
so an email owed by a committed change is sent even when Temporal was away at the time."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.email import SET_PASSWORD_LINK, EmailRequest, email_workflow_id, recorded_email
from domain.settings import Settings
from records.outbox import record_outbox
from services.temporal import TemporalGateway
from services.workflow_starts import promise_start
from workflows.notify import SendEmailWorkflow


async def queue_email(
    db: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    *,
    key: str,
    to: str,
    language: str,
    template: str,
    context: dict[str, Any],
    set_password_for: tuple[str, int] | None = None,
) -> None:
    """Records the message in the outbox; ``set_password_for`` ("user" | "requester", id) has the
    sending activity add that account's set-password link (minted when it sends, stored nowhere)."""
    if set_password_for is not None:
        kind, account_id = set_password_for
        context = {**context, SET_PASSWORD_LINK: {"kind": kind, "id": account_id}}
    request = EmailRequest(key=key, to=to, language=language, template=template, context=context)
    await record_outbox(db, request, settings)
    # A rolled-back request sends nothing; a retried one finds the first one's delivery under way.
    # The workflow carries only the outbox key: the activity reads the message from the row.
    await promise_start(
        db,
        temporal,
        None,
        run=SendEmailWorkflow.run,
        argument=recorded_email(request.key),
        workflow_id=email_workflow_id(request.key),
    )
