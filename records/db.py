"""Engine, session factory and the column types every record shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC, hands back aware UTC (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Execution option of a transaction that only reads (see api/deps.ReadsOnly); SQLite then
# begins it DEFERRED. A write inside such a transaction may fail with "database is locked".
READS_ONLY = "cvms_reads_only"


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # Room for a crowd's connections without churn: an overflow connection closed on return
        # must be opened again (a thread of its own and the pragmas below) by the next request.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=20, max_overflow=20)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers run beside the one writer; busy_timeout queues writers
        # instead of failing them; foreign keys are off by default in SQLite.
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Search keys are stored folded, so a case-sensitive LIKE is exact and
        # lets SQLite answer `key LIKE 'prefix%'` from the index.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins, and
        # begin it IMMEDIATE so concurrent writers queue rather than deadlock.
        dbapi_conn.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READS_ONLY):
            # A reader in WAL mode runs beside the one writer instead of queueing behind it.
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any error."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads: on SQLite it runs beside a writer, even the caller's own
    unfinished transaction (a page shown again after a refusal reads with one)."""
    async with sessions() as session:
        await session.connection(execution_options={READS_ONLY: True})
        yield session


def after_commit(db: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Runs `action` once the session's (request's) transaction has committed, never after a
    rollback, e.g. starting the workflow of a record it created. Whoever owns the session runs
    the actions (api.deps.get_db)."""
    db.info.setdefault("after_commit", []).append(action)
