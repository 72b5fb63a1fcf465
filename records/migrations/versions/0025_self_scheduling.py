"""self-scheduling from the public finder: the location's switch and pending self-registrations

Revision ID: 0025
Revises: 0018
Create Date: 2026-12-07 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.db

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.add_column(
            sa.Column("self_scheduling", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "self_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("journey_id", sa.String(length=80), nullable=True),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["seat_holds.id"], name=op.f("fk_self_registrations_hold_id_seat_holds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_registrations")),
    )
    op.create_index("ix_self_registrations_email_key", "self_registrations", ["email_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_self_registrations_email_key", table_name="self_registrations")
    op.drop_table("self_registrations")
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("self_scheduling")
