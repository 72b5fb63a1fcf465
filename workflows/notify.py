"""A one-message workflow: durable delivery for email the API itself originates
(account set-up links, help-desk sign-up), retried until the relay takes it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities
    from domain.email import EmailRequest, EmailResult

EMAIL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


@workflow.defn
class SendEmailWorkflow:
    @workflow.run
    async def run(self, request: EmailRequest) -> EmailResult:
        return await workflow.execute_activity_method(
            EmailActivities.deliver_email,
            request,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=EMAIL_RETRY,
        )
