"""Imports every record module so metadata (and Alembic) sees all tables."""

from records import (  # noqa: F401
    audit,
    helpdesk,
    journeys,
    locations,
    outbox,
    products,
    recipients,
    scheduling,
    users,
)
from records.db import Base

metadata = Base.metadata
