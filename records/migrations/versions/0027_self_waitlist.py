"""a self-registration may join a location's waitlist instead of booking a held seat: hold and
slot become optional, and the registration says which product it waits for

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("self_registrations") as batch:
        batch.alter_column("hold_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("slot_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("waitlist_product", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("waitlist_entry_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("self_registrations") as batch:
        batch.drop_column("waitlist_entry_id")
        batch.drop_column("waitlist_product")
        batch.alter_column("slot_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("hold_id", existing_type=sa.Integer(), nullable=False)
