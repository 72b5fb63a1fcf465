"""Every schema change is a migration: the migrated schema matches the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from records.migrate import upgrade
from records.models import metadata


def test_migrations_match_the_models(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path}/schema.db"
    upgrade(url)
    engine = create_engine(f"sqlite:///{tmp_path}/schema.db")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
