"""No Docker engine runs here, so CI checks docker-compose.yml and the Dockerfile
against the code: services, start order, settings names, commands and paths."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from cluster.temporal_cluster import (
    DYNAMIC_CONFIG,
    HISTORY_SHARDS,
    PROCESSES,
    TEMPORAL_VERSION,
    Postgres,
    process_environment,
)
from domain.settings import Settings
from worker.cli import app as cli_app

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SERVICES = COMPOSE["services"]


TEMPORAL_PROCESSES = {f"temporal-{name}" for name in PROCESSES}


def test_compose_has_the_production_services():
    assert set(SERVICES) == {
        "postgres",
        "temporal-schema",
        *TEMPORAL_PROCESSES,
        "temporal-namespace",
        "temporal-ui",
        "mailcatcher",
        "migrate",
        "api",
        "worker",
        "mail-receiver",
    }
    assert SERVICES["api"]["deploy"]["replicas"] == 2
    assert SERVICES["worker"]["deploy"]["replicas"] == 2


def test_the_temporal_services_are_the_clusters_processes_with_the_same_settings():
    """What the cluster test starts (cluster/temporal_cluster.py) is what compose deploys: the same
    processes of the official server at the same version, the same variables, ports and shards."""
    version = TEMPORAL_VERSION.removeprefix("v")
    postgres = Postgres(host="postgres", user="postgres", password="${POSTGRES_PASSWORD:-postgres}")
    # Only where the process runs differs: the image binds its container's address itself,
    # and the dynamic config file is mounted at the image's path.
    per_host = {"BIND_ON_IP", "TEMPORAL_BROADCAST_ADDRESS", "DYNAMIC_CONFIG_FILE_PATH"}
    for name in PROCESSES:
        service = SERVICES[f"temporal-{name}"]
        assert service["image"] == f"temporalio/server:{version}", name
        expected = {k: v for k, v in process_environment(name, postgres).items() if k not in per_host}
        environment = {k: str(v) for k, v in service["environment"].items() if k not in per_host}
        assert environment == expected, name
        assert int(service["environment"]["NUM_HISTORY_SHARDS"]) == HISTORY_SHARDS >= 4
        mount = service["volumes"][0].split(":")
        assert (ROOT / mount[0]).resolve() == DYNAMIC_CONFIG
        assert mount[1] == service["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert [SERVICES[f"temporal-{n}"]["environment"]["TEMPORAL_SERVICES"] for n in PROCESSES] == [
        "frontend",
        "history",
        "history",
        "matching",
        "worker",
    ]
    for job in ("temporal-schema", "temporal-namespace"):
        assert SERVICES[job]["image"] == f"temporalio/admin-tools:{version}"
        assert SERVICES[job]["restart"] == "no"
    assert "temporal-sql-tool" in SERVICES["temporal-schema"]["command"][0]


def test_start_order_has_no_races():
    def waits_for(service: str) -> dict[str, str]:
        return {name: spec["condition"] for name, spec in SERVICES[service].get("depends_on", {}).items()}

    assert waits_for("temporal-schema") == {"postgres": "service_healthy"}
    for process in TEMPORAL_PROCESSES:
        assert waits_for(process) == {"temporal-schema": "service_completed_successfully"}
    assert waits_for("temporal-namespace") == {"temporal-frontend": "service_healthy"}
    assert waits_for("migrate") == {"postgres": "service_healthy"}
    for replica in ("api", "worker"):
        assert waits_for(replica) == {
            "migrate": "service_completed_successfully",
            "temporal-namespace": "service_completed_successfully",
        }
    for service in ("postgres", "temporal-frontend", "api", "worker"):
        assert "healthcheck" in SERVICES[service], service
    assert "/readyz" in str(SERVICES["api"]["healthcheck"]["test"])


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
    assert api_env["CVMS_TEMPORAL_ADDRESS"] == "temporal-frontend:7233"


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
