"""helpdesk: note texts kept by the API, so the case workflow carries only their ids

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from records.db import UTCDateTime

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_case_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["helpdesk_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_helpdesk_case_texts_case_id", "helpdesk_case_texts", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_helpdesk_case_texts_case_id", table_name="helpdesk_case_texts")
    op.drop_table("helpdesk_case_texts")
