"""Dashboard and programme report: covering indexes of doses by when they were given (per location
and across locations) and of appointments by location, time and status; the recipient's county
(from the ZIP code) kept on the row.

Revision ID: 0024
Revises: 0018
Create Date: 2026-12-07 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from domain.places import county_of_zip

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_doses_location_given",
        "doses",
        ["location_id", "given_at", "removed", "product_code", "recipient_id"],
        unique=False,
    )
    op.create_index(
        "ix_doses_given", "doses", ["given_at", "removed", "location_id", "recipient_id"], unique=False
    )
    op.create_index(
        "ix_appointments_location_start_status",
        "appointments",
        ["location_id", "start_at", "status", "product_code"],
        unique=False,
    )
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("county", sa.String(length=80), nullable=True))
    # Existing recipients get their county once, one UPDATE per distinct ZIP code.
    bind = op.get_bind()
    recipients = sa.table("recipients", sa.column("postal_code", sa.String), sa.column("county", sa.String))
    codes = bind.execute(sa.select(recipients.c.postal_code).distinct()).scalars().all()
    for code in codes:
        county = county_of_zip(code or "")
        if county:
            bind.execute(recipients.update().where(recipients.c.postal_code == code).values(county=county))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("county")
    op.drop_index("ix_appointments_location_start_status", table_name="appointments")
    op.drop_index("ix_doses_given", table_name="doses")
    op.drop_index("ix_doses_location_given", table_name="doses")
