"""waitlist: one active entry per person, location and product, enforced by a partial unique index

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('waiting', 'offered')"


def upgrade() -> None:
    # Two joins at once could each have added an entry before: keep the first in line, take the
    # later waiting ones off (one holding an offer keeps it).
    op.execute(
        f"""
        UPDATE waitlist_entries SET status = 'removed'
        WHERE status = 'waiting' AND EXISTS (
            SELECT 1 FROM waitlist_entries AS earlier
            WHERE earlier.location_id = waitlist_entries.location_id
              AND earlier.recipient_id = waitlist_entries.recipient_id
              AND earlier.product_code = waitlist_entries.product_code
              AND earlier.{ACTIVE}
              AND (earlier.status = 'offered' OR earlier.id < waitlist_entries.id)
        )
        """
    )
    op.create_index(
        "uq_waitlist_entries_active",
        "waitlist_entries",
        ["location_id", "recipient_id", "product_code"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_waitlist_entries_active", table_name="waitlist_entries")
