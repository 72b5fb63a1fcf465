"""screening questions in Spanish: the prompt and the reason a person is told

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("screening_questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt_es", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reason_es", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screening_questions", schema=None) as batch_op:
        batch_op.drop_column("reason_es")
        batch_op.drop_column("prompt_es")
