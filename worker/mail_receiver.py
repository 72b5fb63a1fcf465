"""`cvms mail-receiver`: the help desk's own SMTP (or LMTP) receiver.

Each message is kept in the database before the receiver answers 250 (a failure to keep it
answers 451, so the sending server tries again later); it is handled right after, once
(services.helpdesk_inbound), and a sweep handles whatever is still waiting (the receiver
was stopped, Temporal was away). A mail server may deliver to it directly or relay by LMTP.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.refusals import Refusal
from domain.settings import Settings
from records.db import make_engine, make_sessionmaker
from services import helpdesk_inbound
from services.temporal import TemporalGateway

log = logging.getLogger("cvms.mail_receiver")


class MailReceiver:
    """Serves SMTP (or LMTP) on the running event loop and handles what it keeps."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalGateway,
        *,
        lmtp: bool = False,
        sweep_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.temporal = temporal
        self.lmtp = lmtp
        self.sweep_seconds = sweep_seconds or settings.reconcile_interval_seconds
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._handling: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str | None = None, port: int | None = None) -> None:
        protocol = LMTP if self.lmtp else SMTP
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: protocol(
                self,
                data_size_limit=self.settings.helpdesk_mail_max_bytes,
                enable_SMTPUTF8=True,
                hostname="cvms-help-desk",
            ),
            host or self.settings.mail_receiver_host,
            self.settings.mail_receiver_port if port is None else port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    # --- aiosmtpd hooks ------------------------------------------------------------------------

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            row_id, _new = await helpdesk_inbound.store(
                self.sessions, raw, envelope.mail_from or "", list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("an inbound message could not be kept")
            return "451 4.3.0 The message could not be kept just now; try again later"
        self._spawn(row_id)
        return "250 2.0.0 Message kept"

    # --- handling ------------------------------------------------------------------------------

    def _spawn(self, row_id: int) -> None:
        task = asyncio.create_task(self._handle(row_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, row_id: int) -> None:
        if row_id in self._handling:
            return
        self._handling.add(row_id)
        try:
            outcome = await helpdesk_inbound.handle(
                sessions=self.sessions, settings=self.settings, temporal=self.temporal, row_id=row_id
            )
            log.info("inbound message %s: %s", row_id, outcome)
        except Refusal as refusal:
            log.warning("inbound message %s waits: %s", row_id, refusal.message)
        except Exception:
            log.exception("inbound message %s waits after a failure", row_id)
        finally:
            self._handling.discard(row_id)

    async def sweep(self) -> None:
        for row_id in await helpdesk_inbound.waiting(self.sessions):
            await self._handle(row_id)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the inbound mail sweep failed; it runs again")
            await asyncio.sleep(self.sweep_seconds)


async def run_receiver(settings: Settings, *, lmtp: bool = False) -> None:
    from worker.main import _connect_with_retry

    client = await _connect_with_retry(settings)
    gateway = TemporalGateway(
        client,
        settings.temporal_task_queue,
        deadline=settings.temporal_deadline_seconds,
        retry_after=settings.temporal_retry_after_seconds,
    )
    engine = make_engine(settings.database_url)
    receiver = MailReceiver(settings, make_sessionmaker(engine), gateway, lmtp=lmtp)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await receiver.start()
    log.info(
        "help-desk mail receiver (%s) on %s:%s",
        "LMTP" if lmtp else "SMTP",
        settings.mail_receiver_host,
        receiver.port,
    )
    try:
        await stop.wait()
    finally:
        await receiver.stop()
        await engine.dispose()
