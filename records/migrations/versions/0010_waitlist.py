"""waitlist: seat holds, waitlist entries and offers, used links, eligibility rules

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.db

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Integer(), server_default="0", nullable=False))

    op.create_table(
        "seat_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("held_by", sa.String(length=80), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", records.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_seat_holds_slot_id_slots")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_seat_holds_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_holds")),
    )
    with op.batch_alter_table("seat_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_holds_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_seat_holds_location_id"), ["location_id"], unique=False)

    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("earliest_date", sa.Date(), nullable=False),
        sa.Column("latest_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("added_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", records.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_waitlist_entries_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name=op.f("fk_waitlist_entries_recipient_id_recipients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_scope", ["location_id", "product_code", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_waitlist_entries_recipient_id"), ["recipient_id"], unique=False)

    op.create_table(
        "waitlist_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("settled_at", records.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["waitlist_entries.id"], name=op.f("fk_waitlist_offers_entry_id_waitlist_entries")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_waitlist_offers_slot_id_slots")),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["seat_holds.id"], name=op.f("fk_waitlist_offers_hold_id_seat_holds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offers")),
        sa.UniqueConstraint("entry_id", "slot_id", name=op.f("uq_waitlist_offers_entry_id_slot_id")),
    )
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waitlist_offers_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_waitlist_offers_status"), ["status"], unique=False)

    op.create_table(
        "used_links",
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("used_at", records.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_used_links")),
    )

    op.create_table(
        "minimum_ages",
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("updated_at", records.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("product_code", name=op.f("pk_minimum_ages")),
    )

    op.create_table(
        "screening_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=True),
        sa.Column("trigger_answer", sa.String(length=20), nullable=False),
        sa.Column("effect", sa.String(length=10), nullable=False),
        sa.Column("defer_days", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_questions")),
        sa.UniqueConstraint("code", name=op.f("uq_screening_questions_code")),
    )
    with op.batch_alter_table("screening_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_questions_product_code"), ["product_code"], unique=False
        )


def downgrade() -> None:
    op.drop_table("screening_questions")
    op.drop_table("minimum_ages")
    op.drop_table("used_links")
    op.drop_table("waitlist_offers")
    op.drop_table("waitlist_entries")
    op.drop_table("seat_holds")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_column("held")
