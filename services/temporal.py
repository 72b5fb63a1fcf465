"""The Temporal gateway: connecting with the settings (TLS and API key for a cluster or Temporal
Cloud), the one data converter, and every call the services make to Temporal."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import (
    Client,
    TLSConfig,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.refusals import REFUSED, Refusal, Unavailable, from_application_error
from domain.settings import Settings

# Building a pydantic TypeAdapter costs milliseconds. The SDK makes a fresh payload converter
# (and with it a fresh adapter cache) for every activity's serialization context, so without
# one cache shared by the whole process every activity call would build its adapters again.
_shared_type_adapter = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _SharedCachePayloadConverter(PydanticPayloadConverter):
    def __init__(self) -> None:
        super().__init__()
        for converter in self.converters.values():
            if isinstance(converter, PydanticJSONPlainPayloadConverter):
                converter._type_adapter = _shared_type_adapter  # noqa: SLF001

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


# The one data converter of every client, worker and replayer: pydantic JSON for
# dataclasses and models alike.
data_converter = DataConverter(payload_converter_class=_SharedCachePayloadConverter)


async def connect(settings: Settings) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key,
        data_converter=data_converter,
    )


# --------------------------------------------------------------------------- the gateway

QUERY_TIMEOUT = timedelta(seconds=5)


def refusal_from(
    error: BaseException, *, unavailable: str = "this could not be done just now; try again"
) -> Refusal:
    """The refusal a failed update or workflow carries, or "unavailable" for any other failure."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == REFUSED:
            return from_application_error(cause)
        cause = cause.__cause__
    return Unavailable(unavailable, code="temporal_failed")


class TemporalGateway:
    """Every use of the Temporal client by the services: start, update (with start), signal, query.

    A refusal raised by a workflow or activity comes back as that ``Refusal``; Temporal not
    answering, or failing otherwise, is ``Unavailable``. Services never touch the client.
    """

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def update_with_start(
        self,
        run: Any,
        start_argument: Any,
        *,
        workflow_id: str,
        update: Any,
        argument: Any,
        update_id: str,
        unavailable: str,
        unavailable_code: str,
    ) -> Any:
        """One update to a workflow, starting it with ``start_argument`` if it is not running."""
        start = WithStartWorkflowOperation(
            run,
            start_argument,
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        try:
            return await self.client.execute_update_with_start_workflow(
                update, argument, start_workflow_operation=start, id=update_id
            )
        except WorkflowUpdateFailedError as failure:
            raise refusal_from(failure.cause, unavailable=unavailable) from None
        except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as failure:
            raise Unavailable(f"{unavailable} ({type(failure).__name__})", code=unavailable_code) from None

    async def update(
        self, workflow_id: str, update: Any, argument: Any, *, result_type: type | None = None, gone: Refusal
    ) -> Any:
        """One update to a running workflow; ``gone`` is raised when no such workflow runs."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            return await handle.execute_update(update, argument, result_type=result_type)
        except WorkflowUpdateFailedError as failure:
            raise refusal_from(failure.cause) from None
        except RPCError as failure:
            if failure.status == RPCStatusCode.NOT_FOUND:
                raise gone from None
            raise Unavailable(f"this could not be done just now; try again ({failure.status.name})") from None

    async def start(self, run: Any, argument: Any, *, workflow_id: str, once: bool = True) -> None:
        """Starts a workflow; with ``once``, a second start of the same id is a no-op (a retried request)."""
        try:
            await self.client.start_workflow(
                run,
                argument,
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            if not once:
                raise

    async def signal_with_start(
        self, run: Any, argument: Any, *, workflow_id: str, signal: Any, signal_argument: Any
    ) -> None:
        await self.client.start_workflow(
            run,
            argument,
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=signal,
            start_signal_args=[signal_argument],
        )

    async def signal(self, workflow_id: str, signal: Any, argument: Any = None) -> None:
        handle = self.client.get_workflow_handle(workflow_id)
        await (handle.signal(signal) if argument is None else handle.signal(signal, argument))

    async def query(self, workflow_id: str, query: Any, *, timeout: timedelta = QUERY_TIMEOUT) -> Any | None:
        """What a workflow answers, or None when it does not run or no worker answers in time."""
        try:
            return await self.client.get_workflow_handle(workflow_id).query(query, rpc_timeout=timeout)
        except (RPCError, WorkflowQueryFailedError):
            return None
