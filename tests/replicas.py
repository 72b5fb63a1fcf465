"""Runs cvms API and worker replicas as real processes (`cvms api`, `cvms worker`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from domain.settings import Settings
from worker.devserver import free_port, wait_for_port


def replica_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name in Settings.model_fields:
        value = getattr(settings, name)
        key = f"CVMS_{name.upper()}"
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@dataclass
class Replicas:
    settings: Settings
    logs: Path
    apis: list[tuple[subprocess.Popen, str]] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    health_ports: dict[int, int] = field(default_factory=dict)

    def _spawn(self, name: str, command: str, env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [sys.executable, "-m", "worker.cli", command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_api(self) -> str:
        port = free_port()
        env = replica_environment(self.settings) | {"CVMS_API_PORT": str(port)}
        process = self._spawn(f"api-{len(self.apis)}", "api", env)
        wait_for_port("127.0.0.1", port, 60, process)
        url = f"http://127.0.0.1:{port}"
        self.apis.append((process, url))
        return url

    def start_worker(self) -> subprocess.Popen:
        # Each worker's health and metrics port of its own (they share one address here).
        env = replica_environment(self.settings) | {"CVMS_WORKER_HEALTH_PORT": str(free_port())}
        process = self._spawn(f"worker-{len(self.workers)}", "worker", env)
        self.workers.append(process)
        self.health_ports[process.pid] = int(env["CVMS_WORKER_HEALTH_PORT"])
        # Its health port opens once it polls its task queue.
        wait_for_port("127.0.0.1", self.health_ports[process.pid], 60, process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: no clean shutdown, as when a machine dies."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in [p for p, _ in self.apis] + self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [p for p, _ in self.apis] + self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
