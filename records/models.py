"""Imports every record module so metadata (and Alembic) sees all tables."""

from records import (  # noqa: F401
    audit,
    eligibility,
    free_seats,
    helpdesk,
    helpdesk_desk,
    helpdesk_mail,
    helpdesk_survey,
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
    self_registrations,
    uploads,
    users,
    waiting_room,
    waitlist,
    workflow_starts,
)
from records.db import Base

metadata = Base.metadata
