"""Imports every record module so metadata (and Alembic) sees all tables."""

from records import (  # noqa: F401
    audit,
    helpdesk,
    inventory,
    journeys,
    locations,
    marketplace,
    outbox,
    products,
    recipients,
    scheduling,
    users,
)
from records.db import Base

metadata = Base.metadata
