"""Imports every record module so metadata (and Alembic) sees all tables."""

from records import (  # noqa: F401
    audit,
    eligibility,
    helpdesk,
    holds,
    idempotency,
    inventory,
    journeys,
    links,
    locations,
    marketplace,
    outbox,
    products,
    recipients,
    schedules,
    scheduling,
    uploads,
    users,
    waitlist,
    workflow_starts,
)
from records.db import Base

metadata = Base.metadata
