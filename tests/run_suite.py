"""`make test`: the whole suite on SQLite, then again on PostgreSQL where one is reachable,
then the cluster phase: tests/test_cluster.py on the official Temporal server as a cluster.

PostgreSQL is used when CVMS_TEST_DATABASE_URL names one, or when a server
answers on 127.0.0.1:5432 (a throwaway database is created for the run and
dropped after). Otherwise the PostgreSQL run is skipped, and this says so.
The cluster phase runs where the server is built (`make temporal-cluster-bin`)
and PostgreSQL answers; in CI (`CI` set) a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

PYTEST = [sys.executable, "-m", "pytest"]
SQLITE_ONLY = "--sqlite-only"
ADMIN_URL = os.environ.get("CVMS_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def run(label: str, env: dict[str, str], args: list[str] | None = None) -> int:
    print(f"\n=== cvms test suite on {label} ===", flush=True)
    given = [a for a in sys.argv[1:] if a != SQLITE_ONLY] if args is None else args
    code = subprocess.call([*PYTEST, *given], env=env)
    if code == 5:
        print("pytest collected no tests: that is a failure for cvms", flush=True)
    return code


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_database() -> tuple[str | None, str]:
    """(async URL of a fresh database, or None, and why)."""
    if url := os.environ.get("CVMS_TEST_DATABASE_URL"):
        return url, "CVMS_TEST_DATABASE_URL"
    name = f"cvms_test_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        return None, f"no PostgreSQL at {ADMIN_URL} ({type(exc).__name__}: {exc})"
    host = ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{host}/{name}", name


def main() -> int:
    env = dict(os.environ)
    env.pop("CVMS_TEST_DATABASE_URL", None)
    sqlite_code = run("SQLite", env)
    if SQLITE_ONLY in sys.argv[1:]:
        return sqlite_code

    pg_url, why = postgres_database()
    if pg_url is None:
        print(f"\n=== PostgreSQL run SKIPPED: {why} ===", flush=True)
        return sqlite_code
    try:
        pg_code = run(f"PostgreSQL ({pg_url.rsplit('@', 1)[-1]})", {**env, "CVMS_TEST_DATABASE_URL": pg_url})
    finally:
        if why.startswith("cvms_test_"):
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{why}" WITH (FORCE)'))
    cluster_code = run_cluster_phase(env)
    print(
        f"\nSQLite: exit {sqlite_code}; PostgreSQL: exit {pg_code}; cluster: exit {cluster_code}", flush=True
    )
    return sqlite_code or pg_code or cluster_code


def run_cluster_phase(env: dict[str, str]) -> int:
    """tests/test_cluster.py on the Temporal cluster, the records on a PostgreSQL database of its own."""
    from cluster.temporal_cluster import SERVER, built

    if not built():
        print(
            f"\n=== cluster phase SKIPPED: {SERVER} is not built (make temporal-cluster-bin) ===", flush=True
        )
        return 1 if os.environ.get("CI") else 0
    pg_url, why = postgres_database()
    if pg_url is None:
        print(f"\n=== cluster phase SKIPPED: {why} ===", flush=True)
        return 1 if os.environ.get("CI") else 0
    cluster_env = {**env, "CVMS_TEST_DATABASE_URL": pg_url, "CVMS_TEST_CLUSTER": "1"}
    try:
        return run("the Temporal cluster", cluster_env, ["-m", "cluster", "-s", "tests/test_cluster.py"])
    finally:
        if why.startswith("cvms_test_"):
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{why}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main())
