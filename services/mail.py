"""Email the API itself originates: written to the outbox in the request's
transaction, delivered by a durable one-message workflow once that commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.email import EmailRequest, email_workflow_id
from domain.settings import Settings
from records.outbox import record_outbox
from services.temporal import TemporalGateway
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
    db.info.setdefault("queued_email", []).append((temporal, request))


async def start_committed_email(db: AsyncSession) -> None:
    """Starts delivery of what the committed transaction queued (a rolled-back one sends nothing)."""
    for temporal, request in db.info.pop("queued_email", []):
        # once: a retried request finds the first one's delivery already under way
        await temporal.start(SendEmailWorkflow.run, request, workflow_id=email_workflow_id(request.key))
