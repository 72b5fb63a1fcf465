"""The Temporal gateway: connecting with the settings (TLS and API key for a cluster or Temporal
Cloud), the one data converter (payloads sealed by the key ring), and every call the services
make to Temporal."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.deadlines import answer_by
from domain.payload_keys import KeyRing
from domain.refusals import REFUSED, Refusal, Unavailable, from_application_error
from domain.settings import Settings
from services import telemetry
from services.payload_codec import EncryptionCodec

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


@functools.lru_cache(maxsize=8)
def _converter_for_keys(payload_keys: str) -> DataConverter:
    ring = KeyRing.parse(payload_keys)
    return DataConverter(
        payload_converter_class=_SharedCachePayloadConverter,
        payload_codec=EncryptionCodec(ring) if ring else None,
        # Failure messages and stack traces go into the encoded attributes, so they are sealed too.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of every client, worker and replayer: pydantic JSON for dataclasses and
    models alike, every payload sealed with the current key of CVMS_PAYLOAD_KEYS (none in a
    development stack without keys). Payloads written unsealed still read."""
    return _converter_for_keys(settings.payload_keys)


def payload_codec(settings: Settings) -> EncryptionCodec:
    """The codec the Web UI's codec endpoint uses; refuses when no payload key is set."""
    codec = data_converter(settings).payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise Unavailable(
            "payloads are not encrypted here (CVMS_PAYLOAD_KEYS is empty)", code="no_payload_keys"
        )
    return codec


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
        data_converter=data_converter(settings),
        # Operators' signals: the SDK's metrics for Prometheus, traces across client and worker.
        runtime=telemetry.sdk_runtime(),
        interceptors=telemetry.client_interceptors(),
    )


# --------------------------------------------------------------------------- the gateway

QUERY_TIMEOUT = timedelta(seconds=5)
T = TypeVar("T")


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


# What a call that did not get through within its deadline looks like.
_NOT_THROUGH = (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError, RuntimeError, OSError)


class TemporalGateway:
    """Every use of the Temporal client by the services: start, update (with start), signal, query.

    A refusal raised by a workflow or activity comes back as that ``Refusal``. Every call has a
    deadline: Temporal not answering within it is ``Unavailable`` with code ``temporal_unavailable``,
    an update no worker takes up within it ``worker_unavailable`` (both with ``retry_after`` and
    ``changed=False``: nothing was done). Services never touch the client.
    """

    def __init__(
        self,
        client: Client | Callable[[], Awaitable[Client]],
        task_queue: str,
        *,
        deadline: float = 4.0,
        retry_after: int = 5,
    ) -> None:
        self._get_client = client if callable(client) and not isinstance(client, Client) else None
        self._client = client if isinstance(client, Client) else None
        self.task_queue = task_queue
        self.deadline = deadline
        self.retry_after = retry_after

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("the Temporal client is connected on first use")
        return self._client

    async def _connected(self) -> Client:
        if self._client is None:
            assert self._get_client is not None
            self._client = await self._get_client()
        return self._client

    @property
    def _accept_within(self) -> float:
        # A worker must accept an update well before this caller stops waiting (at 0.8 of the
        # deadline): accepted later, it would change what the 503 said was unchanged.
        return self.deadline * 0.7

    @property
    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.deadline)

    def _unavailable(self, code: str, what: str) -> Unavailable:
        reason = (
            "no worker took it up in time"
            if code == "worker_unavailable"
            else "the workflow service did not answer in time"
        )
        return Unavailable(
            f"{what}: {reason}; nothing was changed, try again shortly",
            code=code,
            retry_after=self.retry_after,
            changed=False,
        )

    async def _within_deadline(
        self, call: Callable[[Client], Awaitable[T]], *, what: str, needs_worker: bool = False
    ) -> T:
        """Runs ``call`` within the deadline. When it does not get through, a quick health check
        tells a frozen or unreachable Temporal (temporal_unavailable) from a missing worker."""
        # An update keeps a fifth of the deadline for the health check, so the answer comes in time.
        budget = self.deadline * (0.8 if needs_worker else 1.0)
        try:
            async with asyncio.timeout(budget):
                return await call(await self._connected())
        except _NOT_THROUGH as failure:
            if isinstance(failure, RPCError) and failure.status not in _UNREACHABLE:
                raise
            if needs_worker and await self._temporal_answers():
                raise self._unavailable("worker_unavailable", what) from None
            raise self._unavailable("temporal_unavailable", what) from None

    async def _temporal_answers(self) -> bool:
        if self._client is None:
            return False
        try:
            probe = max(0.2, self.deadline * 0.15)
            async with asyncio.timeout(probe):
                return await self._client.service_client.check_health(timeout=timedelta(seconds=probe))
        except Exception:  # noqa: BLE001 - not answering is the answer
            return False

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
        argument = answer_by(argument, datetime.now(UTC), self._accept_within)
        try:
            return await self._within_deadline(
                lambda client: client.execute_update_with_start_workflow(
                    update,
                    argument,
                    start_workflow_operation=start,
                    id=update_id,
                    rpc_timeout=self._rpc_timeout,
                ),
                what=unavailable.split(";")[0],
                needs_worker=True,
            )
        except WorkflowUpdateFailedError as failure:
            raise refusal_from(failure.cause, unavailable=unavailable) from None
        except RPCError as failure:
            raise Unavailable(f"{unavailable} ({failure.status.name})", code=unavailable_code) from None

    async def update(
        self, workflow_id: str, update: Any, argument: Any, *, result_type: type | None = None, gone: Refusal
    ) -> Any:
        """One update to a running workflow; ``gone`` is raised when no such workflow runs."""
        argument = answer_by(argument, datetime.now(UTC), self._accept_within)
        try:
            return await self._within_deadline(
                lambda client: client.get_workflow_handle(workflow_id).execute_update(
                    update, argument, result_type=result_type, rpc_timeout=self._rpc_timeout
                ),
                what="the change could not be made",
                needs_worker=True,
            )
        except WorkflowUpdateFailedError as failure:
            raise refusal_from(failure.cause) from None
        except RPCError as failure:
            if failure.status == RPCStatusCode.NOT_FOUND:
                raise gone from None
            raise Unavailable(f"this could not be done just now; try again ({failure.status.name})") from None

    async def start(self, run: Any, argument: Any, *, workflow_id: str, once: bool = True) -> None:
        """Starts a workflow; with ``once``, a second start of the same id is a no-op (a retried request)."""
        try:
            await self._within_deadline(
                lambda client: client.start_workflow(
                    run,
                    argument,
                    id=workflow_id,
                    task_queue=self.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    rpc_timeout=self._rpc_timeout,
                ),
                what="the work could not be started",
            )
        except WorkflowAlreadyStartedError:
            if not once:
                raise

    async def signal_with_start(
        self, run: Any, argument: Any, *, workflow_id: str, signal: Any, signal_argument: Any
    ) -> None:
        await self._within_deadline(
            lambda client: client.start_workflow(
                run,
                argument,
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal=signal,
                start_signal_args=[] if signal_argument is None else [signal_argument],
                rpc_timeout=self._rpc_timeout,
            ),
            what="the work could not be started",
        )

    async def signal(self, workflow_id: str, signal: Any, argument: Any = None) -> None:
        async def send(client: Client) -> None:
            handle = client.get_workflow_handle(workflow_id)
            args = [] if argument is None else [argument]
            await handle.signal(signal, *args, rpc_timeout=self._rpc_timeout)

        await self._within_deadline(send, what="the change could not be passed on")

    async def query(self, workflow_id: str, query: Any, *, timeout: timedelta = QUERY_TIMEOUT) -> Any | None:
        """What a workflow answers, or None when it does not run or no worker answers in time."""
        timeout = min(timeout, self._rpc_timeout)
        try:
            async with asyncio.timeout(timeout.total_seconds() + 0.25):
                client = await self._connected()
                return await client.get_workflow_handle(workflow_id).query(query, rpc_timeout=timeout)
        except (RPCError, WorkflowQueryFailedError, TimeoutError, RuntimeError, OSError):
            return None


# RPC failures that mean "did not get through" rather than "was refused".
_UNREACHABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}
