"""helpdesk: satisfaction surveys and the next-update breach flag

Revision ID: 0022
Revises: 0025
Create Date: 2026-12-07 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from records.db import UTCDateTime

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("helpdesk_cases") as batch:
        batch.add_column(
            sa.Column("next_update_breached", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "helpdesk_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("rating", sa.String(length=4), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["helpdesk_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("helpdesk_surveys")
    with op.batch_alter_table("helpdesk_cases") as batch:
        batch.drop_column("next_update_breached")
