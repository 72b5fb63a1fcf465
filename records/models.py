"""Imports every record module so metadata (and Alembic) sees all tables."""

from records import (  # noqa: F401
    audit,
    eligibility,
    helpdesk,
    helpdesk_desk,
    helpdesk_mail,
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
    scheduling,
    uploads,
    users,
    waitlist,
    workflow_starts,
)
from records.db import Base

metadata = Base.metadata
