"""The official Temporal server as a multi-process cluster on PostgreSQL, on loopback ports.

    python -m cluster.temporal_cluster build   # go install the pinned server and schema tool (once)
    python -m cluster.temporal_cluster up      # databases, schema, five processes, namespace; Ctrl-C stops

The server and `temporal-sql-tool` are built from the Go module `go.temporal.io/server` at
TEMPORAL_VERSION into `.temporal-cluster/<version>/bin/` (git-ignored); the schema files come
from the same module in the Go module cache. Each process runs the server's embedded config
template, configured by environment variables only — the same variables, and the same
`cluster/dynamicconfig.yaml`, that docker-compose.yml gives the official `temporalio/server`
image, so what the tests run is what is deployed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

TEMPORAL_VERSION = "v1.32.1"  # v1.32.2 needs Go >= 1.26.10; the machines have 1.26.8
MODULE = "go.temporal.io/server"
ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".temporal-cluster"
BIN_DIR = BUILD_DIR / TEMPORAL_VERSION / "bin"
SERVER = BIN_DIR / "temporal-server"
SQL_TOOL = BIN_DIR / "temporal-sql-tool"
DYNAMIC_CONFIG = Path(__file__).resolve().parent / "dynamicconfig.yaml"
HISTORY_SHARDS = 4
NAMESPACE_RETENTION = timedelta(days=3)
# cvms's own search attributes (name -> type). The workflows use only the built-in
# TemporalChangeVersion (workflow.patched), so there are none to register today.
SEARCH_ATTRIBUTES: dict[str, str] = {}

# Process name -> (service, its ports). Two history hosts on one address need ports of their own.
PROCESSES: dict[str, tuple[str, dict[str, int]]] = {
    "frontend": (
        "frontend",
        {"FRONTEND_GRPC_PORT": 7233, "FRONTEND_MEMBERSHIP_PORT": 6933, "FRONTEND_HTTP_PORT": 7243},
    ),
    "history-1": ("history", {"HISTORY_GRPC_PORT": 7234, "HISTORY_MEMBERSHIP_PORT": 6934}),
    "history-2": ("history", {"HISTORY_GRPC_PORT": 7244, "HISTORY_MEMBERSHIP_PORT": 6944}),
    "matching": ("matching", {"MATCHING_GRPC_PORT": 7235, "MATCHING_MEMBERSHIP_PORT": 6935}),
    "worker": ("worker", {"WORKER_GRPC_PORT": 7239, "WORKER_MEMBERSHIP_PORT": 6939}),
}
# The default ports of every service: a process's own ports override them.
DEFAULT_PORTS = {key: port for _, (_, ports) in list(PROCESSES.items())[::-1] for key, port in ports.items()}


@dataclass(frozen=True)
class Postgres:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    database: str = "temporal"
    visibility_database: str = "temporal_visibility"


def process_environment(name: str, postgres: Postgres, *, shift: int = 0) -> dict[str, str]:
    """The server's environment for one process (ports moved by `shift`, for a test's own range)."""
    service, own_ports = PROCESSES[name]
    ports = DEFAULT_PORTS | own_ports
    return {
        "TEMPORAL_SERVICES": service,
        "TEMPORAL_ALLOW_NO_AUTH": "true",
        "DB": "postgres12",
        "DB_PORT": str(postgres.port),
        "POSTGRES_SEEDS": postgres.host,
        "POSTGRES_USER": postgres.user,
        "POSTGRES_PWD": postgres.password,
        "DBNAME": postgres.database,
        "VISIBILITY_DBNAME": postgres.visibility_database,
        "NUM_HISTORY_SHARDS": str(HISTORY_SHARDS),
        # Five processes share one PostgreSQL (max_connections 100 by default) with cvms's own
        # pools: at most 5 + 2 connections each instead of the template's 20 + 10.
        "SQL_MAX_CONNS": "5",
        "SQL_MAX_IDLE_CONNS": "5",
        "SQL_VIS_MAX_CONNS": "2",
        "SQL_VIS_MAX_IDLE_CONNS": "2",
        "BIND_ON_IP": "127.0.0.1",
        "TEMPORAL_BROADCAST_ADDRESS": "127.0.0.1",
        "DYNAMIC_CONFIG_FILE_PATH": str(DYNAMIC_CONFIG),
        "LOG_LEVEL": "warn",
        **{key: str(port + shift) for key, port in ports.items()},
    }


# --------------------------------------------------------------------------- build


def built() -> bool:
    return SERVER.exists() and SQL_TOOL.exists()


def build() -> float:
    """Builds the pinned server and schema tool unless they are there; returns seconds spent."""
    if built():
        return 0.0
    if shutil.which("go") is None:
        raise RuntimeError("Go is needed to build the Temporal server (go install from the module proxy)")
    started = time.monotonic()
    staging = BUILD_DIR / TEMPORAL_VERSION / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "go",
            "install",
            f"{MODULE}/cmd/server@{TEMPORAL_VERSION}",
            f"{MODULE}/cmd/tools/sql@{TEMPORAL_VERSION}",
        ],
        env=dict(os.environ) | {"GOBIN": str(staging), "GOTOOLCHAIN": "local"},
        cwd=BUILD_DIR,
        check=True,
    )
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    (staging / "server").rename(SERVER)
    (staging / "sql").rename(SQL_TOOL)
    staging.rmdir()
    return time.monotonic() - started


def schema_dir() -> Path:
    """schema/postgresql/v12 of the pinned module, from the Go module cache."""
    listed = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{TEMPORAL_VERSION}"],
        env=dict(os.environ) | {"GOTOOLCHAIN": "local"},
        cwd=BUILD_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(listed.stdout)["Dir"]) / "schema" / "postgresql" / "v12"


# --------------------------------------------------------------------------- databases


def _sql_tool(postgres: Postgres, database: str, *args: str) -> None:
    subprocess.run(
        [
            str(SQL_TOOL),
            "--plugin",
            "postgres12",
            "--ep",
            postgres.host,
            "--port",
            str(postgres.port),
            "--user",
            postgres.user,
            "--password",
            postgres.password,
            "--db",
            database,
            *args,
        ],
        check=True,
        capture_output=True,
    )


def setup_databases(postgres: Postgres, *, fresh: bool = False) -> None:
    """Creates the Temporal and visibility databases and brings both schemas to the module's latest."""
    schemas = schema_dir()
    for database, schema in (
        (postgres.database, "temporal"),
        (postgres.visibility_database, "visibility"),
    ):
        if fresh:
            _sql_tool(postgres, database, "drop-database", "--force")
        try:
            _sql_tool(postgres, database, "create-database")
        except subprocess.CalledProcessError as exc:
            if b"already exists" not in (exc.stderr or b"") + (exc.stdout or b""):
                raise
        _sql_tool(postgres, database, "setup-schema", "-v", "0.0")
        _sql_tool(postgres, database, "update-schema", "-d", str(schemas / schema / "versioned"))


def drop_databases(postgres: Postgres) -> None:
    for database in (postgres.database, postgres.visibility_database):
        _sql_tool(postgres, database, "drop-database", "--force")


# --------------------------------------------------------------------------- the processes


def free_shift(tries: int = 50) -> int:
    """A shift that moves every default port into a free range (tests run beside a dev stack)."""
    # Below 32768: Temporal keeps membership ports as a PostgreSQL smallint, and Linux hands out
    # ephemeral ports from 32768 up, so nothing else takes them meanwhile.
    for attempt in range(tries):
        shift = 10000 + (uuid.uuid4().int % 150) * 100 + attempt
        if all(_port_free(port + shift) for port in DEFAULT_PORTS.values()):
            return shift
    raise RuntimeError("no free range of ports for the Temporal cluster")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Cluster:
    postgres: Postgres
    logs: Path
    shift: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{DEFAULT_PORTS['FRONTEND_GRPC_PORT'] + self.shift}"

    def grpc_port(self, name: str) -> int:
        _, ports = PROCESSES[name]
        return next(port for key, port in ports.items() if key.endswith("_GRPC_PORT")) + self.shift

    def start(self, name: str) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"temporal-{name}.log", "ab")  # noqa: SIM115 - closed with the process
        env = dict(os.environ) | process_environment(name, self.postgres, shift=self.shift)
        process = subprocess.Popen(
            [str(SERVER), "start"],  # as the temporalio/server image's entrypoint starts it
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_all(self, timeout: float = 90) -> None:
        """The frontend first: every process writes the cluster's metadata record on its first
        start, and five at once race for it (the losers exit), so the rest wait for its port."""
        first, *rest = PROCESSES
        process = self.start(first)
        deadline = time.monotonic() + timeout
        while not _answers(self.grpc_port(first)):
            if process.poll() is not None:
                self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"Temporal {first} did not open its port within {timeout}s")
            time.sleep(0.2)
        for name in rest:
            self.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL, as when a machine dies."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, name: str, timeout: float = 30) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def stop_all(self) -> None:
        for name in list(self.processes)[::-1]:
            self.stop(name)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"temporal-{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Temporal {name} exited with {process.returncode}:\n{tail}")


# --------------------------------------------------------------------------- readiness


async def _probe(address: str, namespace: str, ids: int) -> None:
    """Starts and terminates `ids` workflows whose ids spread over every history shard."""
    from temporalio.client import Client

    client = await Client.connect(address, namespace=namespace)
    for n in range(ids):
        handle = await client.start_workflow(
            "cvms-cluster-probe", id=f"cvms-cluster-probe-{uuid.uuid4().hex}-{n}", task_queue="cvms-probe"
        )
        await handle.terminate("probe")


async def register_namespace(address: str, namespace: str) -> None:
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    client = await Client.connect(address)
    retention = Duration()
    retention.FromTimedelta(NAMESPACE_RETENTION)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=retention)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    if SEARCH_ATTRIBUTES:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={
                    name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
                    for name, kind in SEARCH_ATTRIBUTES.items()
                },
            )
        )


async def wait_until_serving(
    cluster: Cluster, namespace: str, timeout: float = 120, probes: int = 16
) -> float:
    """Registers the namespace and waits until workflows start and end on every shard; returns seconds."""
    started = time.monotonic()
    last: BaseException | None = None
    registered = False
    while time.monotonic() - started < timeout:
        cluster.check_alive()
        try:
            if not registered:
                await asyncio.wait_for(register_namespace(cluster.address, namespace), 10)
                registered = True
            await asyncio.wait_for(_probe(cluster.address, namespace, probes), 10)
            return time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - not serving yet
            last = exc
            await asyncio.sleep(0.5)
    raise TimeoutError(f"the Temporal cluster did not serve within {timeout}s: {last!r}")


def bring_up(
    logs: Path,
    *,
    postgres: Postgres | None = None,
    shift: int = 0,
    namespace: str = "default",
    fresh: bool = False,
) -> Cluster:
    """Builds if needed, sets up the databases, starts every process and waits until it serves."""
    build()
    postgres = postgres or Postgres()
    setup_databases(postgres, fresh=fresh)
    cluster = Cluster(postgres=postgres, logs=logs, shift=shift)
    cluster.start_all()
    try:
        asyncio.run(wait_until_serving(cluster, namespace))
    except BaseException:
        cluster.stop_all()
        raise
    return cluster


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "up"
    if command == "build":
        seconds = build()
        print(
            f"Temporal {TEMPORAL_VERSION}: " + (f"built in {seconds:.0f} s" if seconds else "already built")
        )
        print(f"  {SERVER}\n  {SQL_TOOL}")
        return 0
    if command == "up":
        logs = BUILD_DIR / "logs"
        cluster = bring_up(logs, namespace=os.environ.get("CVMS_TEMPORAL_NAMESPACE", "default"))
        print(f"Temporal {TEMPORAL_VERSION} cluster on PostgreSQL is serving at {cluster.address}")
        for name in PROCESSES:
            print(f"  {name:<10} pid {cluster.processes[name].pid:<7} port {cluster.grpc_port(name)}")
        print(f"  logs       {logs}/temporal-*.log   (Ctrl-C stops every process)")
        stop = [False]
        signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
        try:
            while not stop[0]:
                cluster.check_alive()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            cluster.stop_all()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
