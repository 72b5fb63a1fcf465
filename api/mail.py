"""Email the API itself originates: written to the outbox in the request's
transaction, delivered by a durable one-message workflow once that commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.email import EmailRequest, record_outbox
from domain.settings import Settings
from workflows.notify import SendEmailWorkflow, email_workflow_id


async def queue_email(
    db: AsyncSession,
    temporal: Client,
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
    db.info.setdefault("queued_email", []).append((temporal, settings.temporal_task_queue, request))


async def start_committed_email(db: AsyncSession) -> None:
    """Starts delivery of what the committed transaction queued (a rolled-back one sends nothing)."""
    for temporal, task_queue, request in db.info.pop("queued_email", []):
        try:
            await temporal.start_workflow(
                SendEmailWorkflow.run,
                request,
                id=email_workflow_id(request.key),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # a retried request: the first one's delivery is already under way
