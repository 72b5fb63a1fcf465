"""recipient uploads: CSV uploads processed in the background, and each row's outcome

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.db

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recipient_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("done_rows", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", records.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_recipient_uploads_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_recipient_uploads_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_uploads")),
    )
    with op.batch_alter_table("recipient_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipient_uploads_location_id"), ["location_id"], unique=False)

    op.create_table(
        "recipient_upload_rows",
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["recipient_uploads.id"],
            name=op.f("fk_recipient_upload_rows_upload_id_recipient_uploads"),
        ),
        sa.PrimaryKeyConstraint("upload_id", "row", name=op.f("pk_recipient_upload_rows")),
    )


def downgrade() -> None:
    op.drop_table("recipient_upload_rows")
    with op.batch_alter_table("recipient_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_uploads_location_id"))
    op.drop_table("recipient_uploads")
