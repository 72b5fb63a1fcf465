"""No Docker engine runs here, so CI checks docker-compose.yml and the Dockerfile
against the code: services, start order, settings names, commands and paths."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from domain.settings import Settings
from worker.cli import app as cli_app

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SERVICES = COMPOSE["services"]


def test_compose_has_the_production_services():
    assert set(SERVICES) == {"postgres", "temporal", "temporal-ui", "mailcatcher", "migrate", "api", "worker"}
    assert SERVICES["api"]["deploy"]["replicas"] == 2
    assert SERVICES["worker"]["deploy"]["replicas"] == 2
    assert SERVICES["temporal"]["environment"]["DB"] == "postgres12"


def test_start_order_has_no_races():
    def waits_for(service: str) -> dict[str, str]:
        return {name: spec["condition"] for name, spec in SERVICES[service].get("depends_on", {}).items()}

    assert waits_for("temporal") == {"postgres": "service_healthy"}
    assert waits_for("migrate") == {"postgres": "service_healthy"}
    for replica in ("api", "worker"):
        assert waits_for(replica) == {
            "migrate": "service_completed_successfully",
            "temporal": "service_healthy",
        }
    for service in ("postgres", "temporal", "api"):
        assert "healthcheck" in SERVICES[service], service


def test_compose_commands_are_real_cvms_commands():
    commands = set(get_command(cli_app).commands)  # type: ignore[attr-defined]
    for service in ("migrate", "api", "worker"):
        program, command = SERVICES[service]["command"]
        assert program == "cvms" and command in commands, service


def test_every_cvms_variable_in_compose_is_a_setting():
    known = {f"CVMS_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\b(CVMS_[A-Z_]+)\s*:", (ROOT / "docker-compose.yml").read_text()))
    assert used - known == set()
    api_env = SERVICES["api"]["environment"]
    assert api_env["CVMS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert api_env["CVMS_TEMPORAL_ADDRESS"] == "temporal:7233"


def test_dockerfile_is_slim_non_root_and_copies_what_exists():
    assert re.search(r"^FROM python:3\.1[1-9]-slim", DOCKERFILE, re.M)
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert "[test]" not in DOCKERFILE
    for source in re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    found = (ROOT / "pyproject.toml").read_text().split("[tool.setuptools.packages.find]")[1]
    packages = re.findall(r'"(\w+)\*?"', found.split("include = [")[1].split("]")[0])
    copied = set(re.findall(r"^COPY (\w+) ", DOCKERFILE, re.M))
    assert {p.split(".")[0] for p in packages} <= copied
