"""Imports every record module so metadata (and Alembic) sees all tables."""

from records import audit, helpdesk, locations, outbox, recipients, users  # noqa: F401
from records.db import Base

metadata = Base.metadata
