"""helpdesk: the agent workspace's macros (per team, English and Spanish), case presence and case links

Revision ID: 0021
Revises: 0024
Create Date: 2026-12-07 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from records.db import UTCDateTime

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_macros",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("body_es", sa.Text(), nullable=False),
        sa.Column("set_state", sa.String(length=10), nullable=False),
        sa.Column("set_priority", sa.String(length=10), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["helpdesk_teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "name"),
    )
    op.create_index("ix_helpdesk_macros_team_id", "helpdesk_macros", ["team_id"])
    op.create_table(
        "helpdesk_case_presence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("replying", sa.Boolean(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["helpdesk_cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["helpdesk_agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "agent_id"),
    )
    op.create_index("ix_helpdesk_case_presence_case_id", "helpdesk_case_presence", ["case_id"])
    op.create_table(
        "helpdesk_case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("related_case_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["helpdesk_cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["related_case_id"], ["helpdesk_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "related_case_id"),
    )
    op.create_index("ix_helpdesk_case_links_case_id", "helpdesk_case_links", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_helpdesk_case_links_case_id", table_name="helpdesk_case_links")
    op.drop_table("helpdesk_case_links")
    op.drop_index("ix_helpdesk_case_presence_case_id", table_name="helpdesk_case_presence")
    op.drop_table("helpdesk_case_presence")
    op.drop_index("ix_helpdesk_macros_team_id", table_name="helpdesk_macros")
    op.drop_table("helpdesk_macros")
