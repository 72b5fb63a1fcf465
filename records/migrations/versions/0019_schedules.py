"""schedules as data: schedule_versions, recipient_conditions; the family and rule of a journey, the
schedule version of a dose

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.db

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_versions")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_schedule_versions_code_version")),
    )
    op.create_index(op.f("ix_schedule_versions_code"), "schedule_versions", ["code"], unique=False)
    op.create_index(op.f("ix_schedule_versions_family"), "schedule_versions", ["family"], unique=False)
    op.create_table(
        "recipient_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=40), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("removed_by", sa.String(length=80), nullable=True),
        sa.Column("removed_at", records.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name=op.f("fk_recipient_conditions_recipient_id_recipients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_conditions")),
    )
    op.create_index(
        op.f("ix_recipient_conditions_recipient_id"), "recipient_conditions", ["recipient_id"], unique=False
    )
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("family", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("series_rule", sa.JSON(), nullable=True))
    with op.batch_alter_table("doses") as batch:
        batch.add_column(sa.Column("schedule_code", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("schedule_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("series_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("family_dose_number", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("doses") as batch:
        for column in ("family_dose_number", "series_kind", "schedule_version", "schedule_code"):
            batch.drop_column(column)
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("series_rule")
        batch.drop_column("family")
    op.drop_index(op.f("ix_recipient_conditions_recipient_id"), table_name="recipient_conditions")
    op.drop_table("recipient_conditions")
    op.drop_index(op.f("ix_schedule_versions_family"), table_name="schedule_versions")
    op.drop_index(op.f("ix_schedule_versions_code"), table_name="schedule_versions")
    op.drop_table("schedule_versions")
