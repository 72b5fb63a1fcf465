"""`cvms dev` / `make dev`: the whole embedded stack in the foreground.

Temporal dev server (SQLite file under .cvms/), SMTP capture server, worker, help-desk mail
receiver and API as child processes, supervised: any of them but Temporal that dies is restarted
with a back-off; only the Temporal dev server exiting stops the stack. Ctrl-C stops them all.
Data stays in .cvms/ between runs, and the demo data is seeded only once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from domain.payload_keys import new_key_spec
from domain.settings import Settings
from records.db import make_engine, make_sessionmaker
from records.migrate import upgrade
from worker.devserver import port_in_use, start_dev_server, wait_for_port
from worker.seed import DEMO_PASSWORD, demo_logins, seed


class PortTaken(SystemExit):
    pass


# The pages the launcher prints, as paths on the API (tests/test_page_addresses.py opens each).
PAGES = (
    ("Provider portal", "/portal", ""),
    ("Vaccine finder", "/find", "   (public; JSON: {base}/public/locations)"),
    ("Help desk", "/helpdesk", "   (agents: {base}/helpdesk/agent/queue)"),
    ("Captured mail", "/dev/mail/view", "   (JSON: {base}/dev/mail)"),
)


def banner(settings: Settings, state: Path | str) -> str:
    """What the launcher prints once the stack is up: every address a user opens."""
    base = f"http://127.0.0.1:{settings.api_port}"
    pages = "\n".join(f"  {name:<17} {base}{path}{more.format(base=base)}" for name, path, more in PAGES)
    logins = "\n".join(f"    {d.login_name:<10} {d.roles}" for d in demo_logins())
    return f"""
cvms development stack is up (Ctrl-C stops everything; data stays in {state}/)

  API               {base}
  API docs          {base}/docs
{pages}
  Temporal Web UI   http://127.0.0.1:{settings.temporal_ui_port}
                    (payloads decode for an administrator logged in at {base}/portal/login
                    with the Data Encoder set to include cross-origin credentials)
  Temporal frontend 127.0.0.1:{settings.temporal_port}
  SMTP capture      127.0.0.1:{settings.smtp_port}
  Help-desk mail in 127.0.0.1:{settings.mail_receiver_port}  (SMTP for {settings.helpdesk_mail_address})
  Logs              {state}/*.log

  Demo logins (password: {DEMO_PASSWORD}):
{logins}
"""


def _check_ports(settings: Settings) -> None:
    wanted = [
        (settings.api_port, "CVMS_API_PORT", "the API"),
        (settings.temporal_port, "CVMS_TEMPORAL_PORT", "the Temporal dev server"),
        (settings.temporal_ui_port, "CVMS_TEMPORAL_UI_PORT", "the Temporal Web UI"),
        (settings.smtp_port, "CVMS_SMTP_PORT", "the SMTP capture server"),
        (settings.mail_receiver_port, "CVMS_MAIL_RECEIVER_PORT", "the help-desk mail receiver"),
    ]
    if settings.worker_health_port:
        wanted.append(
            (settings.worker_health_port, "CVMS_WORKER_HEALTH_PORT", "the worker's health and metrics")
        )
    for port, variable, what in wanted:
        if port_in_use("127.0.0.1", port):
            raise PortTaken(
                f"port {port} (for {what}) is already in use: stop whatever holds it, "
                f"or choose another port with {variable}=<port>"
            )


def dev_keys(state: Path) -> dict[str, str]:
    """The secret key and payload key of the development stack: random, made on the first start and
    kept in the state folder (readable by the owner only), so links and histories outlive a restart.
    CVMS_SECRET_KEY / CVMS_PAYLOAD_KEYS in the environment win."""
    state.mkdir(parents=True, exist_ok=True)
    makers = {
        "CVMS_SECRET_KEY": ("secret_key", lambda: secrets.token_urlsafe(48)),
        "CVMS_PAYLOAD_KEYS": ("payload_keys", lambda: new_key_spec("dev-1")),
    }
    keys = {}
    for variable, (name, make) in makers.items():
        if os.environ.get(variable):
            keys[variable] = os.environ[variable]
            continue
        path = state / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(make() + "\n")
        keys[variable] = path.read_text().strip()
    return keys


def dev_environment(settings: Settings) -> dict[str, str]:
    """The settings the child processes see, so they agree on every address and key."""
    env = dict(os.environ)
    env.update(dev_keys(Path(settings.state_dir)))
    env.update(
        CVMS_DATABASE_URL=settings.database_url,
        CVMS_TEMPORAL_ADDRESS=f"127.0.0.1:{settings.temporal_port}",
        CVMS_SMTP_HOST="127.0.0.1",
        CVMS_SMTP_PORT=str(settings.smtp_port),
        CVMS_MAIL_RECEIVER_PORT=str(settings.mail_receiver_port),
        CVMS_DEV_STACK="true",
        CVMS_PUBLIC_BASE_URL=settings.public_base_url
        if "CVMS_PUBLIC_BASE_URL" in os.environ
        else f"http://127.0.0.1:{settings.api_port}",
        CVMS_STATE_DIR=str(settings.state_dir),
        # The Web UI decodes payloads through the API's codec (an administrator's login).
        CVMS_TEMPORAL_UI_ORIGINS=f"http://127.0.0.1:{settings.temporal_ui_port},"
        f"http://localhost:{settings.temporal_ui_port}",
    )
    return env


def run_dev(settings: Settings) -> None:
    state = Path(settings.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    _check_ports(settings)
    env = dev_environment(settings)

    print("cvms: applying database migrations …", flush=True)
    upgrade(settings.database_url)

    async def _seed() -> bool:
        engine = make_engine(settings.database_url)
        try:
            return await seed(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    seeded = asyncio.run(_seed())
    print("cvms: demo data " + ("seeded" if seeded else "already present, kept"), flush=True)

    children: list[tuple[str, subprocess.Popen]] = []
    commands = {
        "smtp": [
            sys.executable,
            "-m",
            "notifications.capture",
            "--folder",
            str(state / "mail"),
            "--port",
            str(settings.smtp_port),
        ],
        "worker": [sys.executable, "-m", "worker.cli", "worker"],
        "mail-in": [sys.executable, "-m", "worker.cli", "mail-receiver"],
        "api": [sys.executable, "-m", "worker.cli", "api"],
    }

    def stop_all() -> None:
        for _name, child in reversed(children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for _name, child in reversed(children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)

    def spawn(name: str, args: list[str], record: bool = True) -> subprocess.Popen:
        log = open(state / f"{name}.log", "ab")  # noqa: SIM115
        child = subprocess.Popen(
            args,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if record:
            children.append((name, child))
        (state / f"{name}.pid").write_text(f"{child.pid}\n")
        return child

    try:
        temporal = start_dev_server(
            db_file=state / "temporal.db",
            port=settings.temporal_port,
            ui_port=settings.temporal_ui_port,
            log_file=state / "temporal.log",
            codec_endpoint=f"http://127.0.0.1:{settings.api_port}/codec",
        )
        children.append(("temporal", temporal))
        smtp = spawn("smtp", commands["smtp"])
        wait_for_port("127.0.0.1", settings.temporal_port, 60, temporal)
        wait_for_port("127.0.0.1", settings.smtp_port, 30, smtp)
        spawn("worker", commands["worker"])
        spawn("mail-in", commands["mail-in"])
        api = spawn("api", commands["api"])
        wait_for_port("127.0.0.1", settings.api_port, 60, api)
    except BaseException:
        stop_all()
        raise

    print(banner(settings, state), flush=True)

    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    supervisor = Supervisor(spawn, commands, state)
    try:
        while not stopping:
            for index, (name, child) in enumerate(children):
                if child.poll() is None:
                    continue
                if name == "temporal":
                    # Without Temporal nothing works: stop, and say why.
                    print(f"cvms: temporal exited ({child.returncode}); see {state}/temporal.log", flush=True)
                    stopping = True
                    break
                replacement = supervisor.restart(name, child)
                if replacement is not None:
                    children[index] = (name, replacement)
            time.sleep(0.5)
    finally:
        print("cvms: stopping …", flush=True)
        stop_all()
        print("cvms: stopped", flush=True)


class Supervisor:
    """Restarts a dead worker, API or capture server with a back-off (1 s doubling to 30 s; back to
    1 s after a minute up), one log line each time, so one crash never takes the stack down."""

    def __init__(self, spawn: Any, commands: dict[str, list[str]], state: Path) -> None:
        self.spawn = spawn
        self.commands = commands
        self.state = state
        self.backoff: dict[str, float] = {}
        self.due: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def restart(self, name: str, dead: subprocess.Popen) -> subprocess.Popen | None:
        now = time.monotonic()
        if name not in self.due:
            if now - self.started.get(name, 0.0) > 60:
                self.backoff[name] = 1.0
            wait = self.backoff.get(name, 1.0)
            self.due[name] = now + wait
            self.backoff[name] = min(wait * 2, 30.0)
            print(
                f"cvms: {name} exited ({dead.returncode}); restarting in {wait:.0f} s "
                f"(see {self.state}/{name}.log)",
                flush=True,
            )
        if now < self.due[name]:
            return None
        del self.due[name]
        self.started[name] = now
        print(f"cvms: {name} restarted", flush=True)
        return self.spawn(name, self.commands[name], record=False)
