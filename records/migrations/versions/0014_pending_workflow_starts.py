"""Pending workflow starts: what a committed change promised to start (issue 16).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_workflow_starts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(250), nullable=False),
        sa.Column("workflow_type", sa.String(100), nullable=False),
        sa.Column("task_queue", sa.String(200), nullable=False),
        sa.Column("argument", sa.JSON(), nullable=False),
        sa.Column("signal", sa.String(100), nullable=True),
        sa.Column("signal_argument", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pending_workflow_starts"),
    )
    op.create_index(
        "ix_pending_workflow_starts_started_at", "pending_workflow_starts", ["started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pending_workflow_starts_started_at", table_name="pending_workflow_starts")
    op.drop_table("pending_workflow_starts")
