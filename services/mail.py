"""Email the API itself originates: written to the outbox in the request's transaction with the
start of its durable one-message workflow promised in the same transaction (services/workflow_starts),
so an email owed by a committed change is sent even when Temporal was away at the time."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.email import EmailRequest, email_workflow_id
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
) -> None:
    request = EmailRequest(key=key, to=to, language=language, template=template, context=context)
    await record_outbox(db, request, settings)
    # A rolled-back request sends nothing; a retried one finds the first one's delivery under way.
    await promise_start(
        db,
        temporal,
        None,
        run=SendEmailWorkflow.run,
        argument=request,
        workflow_id=email_workflow_id(request.key),
    )
