"""Applies the Alembic migrations (`cvms migrate`, and the dev stack at start)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str) -> None:
    """Brings the schema to every head (feature branches of migrations may run side by side)."""

    def _sync() -> None:
        command.upgrade(alembic_config(database_url), "heads")

    # env.py drives its own event loop; keep it off any loop the caller runs.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _sync()
        return
    import threading

    failure: list[BaseException] = []

    def _thread() -> None:
        try:
            _sync()
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the caller
            failure.append(exc)

    worker = threading.Thread(target=_thread)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
