"""helpdesk mail: inbound messages, mail routes, a case's channel, attachments in the store

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.db

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "helpdesk_mail_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("subject_contains", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["helpdesk_categories.id"],
            name=op.f("fk_helpdesk_mail_routes_category_id_helpdesk_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["helpdesk_topics.id"],
            name=op.f("fk_helpdesk_mail_routes_topic_id_helpdesk_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_mail_routes")),
    )
    op.create_table(
        "helpdesk_inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("envelope_from", sa.String(length=254), nullable=False),
        sa.Column("envelope_to", sa.String(length=1000), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("text_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", records.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["helpdesk_cases.id"],
            name=op.f("fk_helpdesk_inbound_messages_case_id_helpdesk_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["text_id"],
            ["helpdesk_case_texts.id"],
            name=op.f("fk_helpdesk_inbound_messages_text_id_helpdesk_case_texts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_inbound_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_helpdesk_inbound_messages_message_id")),
    )
    with op.batch_alter_table("helpdesk_inbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_helpdesk_inbound_messages_status"), ["status"], unique=False)

    with op.batch_alter_table("helpdesk_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("added_by", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("text_id", sa.Integer(), nullable=True))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_helpdesk_attachments_text_id_helpdesk_case_texts"),
            "helpdesk_case_texts",
            ["text_id"],
            ["id"],
        )

    with op.batch_alter_table("helpdesk_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=False, server_default="web"))


def downgrade() -> None:
    with op.batch_alter_table("helpdesk_cases", schema=None) as batch_op:
        batch_op.drop_column("channel")

    with op.batch_alter_table("helpdesk_attachments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_helpdesk_attachments_text_id_helpdesk_case_texts"), type_="foreignkey"
        )
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("text_id")
        batch_op.drop_column("added_by")
        batch_op.drop_column("storage_key")

    with op.batch_alter_table("helpdesk_inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_helpdesk_inbound_messages_status"))

    op.drop_table("helpdesk_inbound_messages")
    op.drop_table("helpdesk_mail_routes")
