"""An SMTP server (aiosmtpd) that keeps every message it receives, for development and tests.

Messages are written as .eml files into one folder, so the API process can list
them at /dev/mail; a repeat of a Message-ID is kept once (and counted), which is
how tests prove that nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

ARRIVALS = "arrivals.jsonl"


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def message_summary(msg: EmailMessage, name: str = "") -> dict[str, Any]:
    """The parts of a message a person or a test reads: headers, text, HTML, attachments."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    attachments = [
        {
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "params": dict(part.get_params() or []),
            "content": part.get_content()
            if part.get_content_maintype() == "text"
            else f"<{len(part.get_payload(decode=True) or b'')} bytes>",
        }
        for part in msg.iter_attachments()
    ]
    return {
        "id": name,
        "message_id": msg["Message-ID"],
        "from": msg["From"],
        "to": msg["To"],
        "subject": msg["Subject"],
        "date": msg["Date"],
        "language": msg["Content-Language"],
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
        "attachments": attachments,
    }


@dataclass
class MailStore:
    folder: Path
    messages: list[EmailMessage] = field(default_factory=list)
    deliveries_by_id: dict[str, int] = field(default_factory=dict)
    # Wall-clock arrival (epoch seconds) of each Message-ID's first delivery: benchmarks measure lateness.
    arrived_at: dict[str, float] = field(default_factory=dict)
    _arrived: asyncio.Condition | None = None
    _kept: int = 0  # .eml files in the folder (counted once, not listed per message)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._kept = sum(1 for _ in self.folder.glob("*.eml"))

    def keep(self, raw: bytes) -> None:
        msg = parse(raw)
        message_id = str(msg["Message-ID"] or hashlib.sha256(raw).hexdigest())
        count = self.deliveries_by_id.get(message_id, 0) + 1
        self.deliveries_by_id[message_id] = count
        if count > 1:
            return
        self.arrived_at[message_id] = time.time()
        self.messages.append(msg)
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
        self._kept += 1
        (self.folder / f"{self._kept:06d}-{digest}.eml").write_bytes(raw)
        # One line per first arrival, so another process (a benchmark) can read arrival times.
        with (self.folder / ARRIVALS).open("a") as arrivals:
            arrivals.write(
                json.dumps(
                    {"message_id": message_id, "to": str(msg["To"]), "at": self.arrived_at[message_id]}
                )
                + "\n"
            )

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in self.deliveries_by_id.items() if n > 1}


class _Handler:
    def __init__(self, store: MailStore, loop: asyncio.AbstractEventLoop | None) -> None:
        self.store = store
        self.loop = loop
        self.listeners: list[asyncio.Event] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.store.keep(envelope.original_content or envelope.content)  # type: ignore[arg-type]
        if self.loop is not None:
            for listener in list(self.listeners):
                self.loop.call_soon_threadsafe(listener.set)
        return "250 Message accepted for delivery"


class CaptureServer:
    """Runs aiosmtpd in its own thread; `wait_for` lets async tests await arrivals."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = MailStore(folder)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._handler = _Handler(self.store, loop)
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self._handler, hostname=self.host, port=self.port)
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.store.messages)

    async def wait_for(self, predicate, timeout: float = 30.0) -> list[EmailMessage]:  # type: ignore[no-untyped-def]
        """Waits until `predicate(message)` holds for some message; returns all such."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [m for m in self.store.messages if predicate(m)]
            if found:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                subjects = [(m["To"], m["Subject"]) for m in self.store.messages]
                raise TimeoutError(f"no matching email within {timeout}s; have {subjects}")
            arrived = asyncio.Event()
            self._handler.listeners.append(arrived)
            try:
                await asyncio.wait_for(arrived.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass
            finally:
                self._handler.listeners.remove(arrived)


def list_folder(folder: Path) -> list[dict[str, Any]]:
    """Every kept message in a capture folder, newest first (for /dev/mail)."""
    if not folder.exists():
        return []
    items = []
    for path in sorted(folder.glob("*.eml"), reverse=True):
        items.append(message_summary(parse(path.read_bytes()), name=path.stem))
    return items


def _main() -> None:  # pragma: no cover - used by `cvms dev` as a child process
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(description="cvms SMTP capture server")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = CaptureServer(args.folder, args.host, args.port)
    server.start()
    print(json.dumps({"smtp": f"{args.host}:{server.port}"}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":  # pragma: no cover
    _main()
