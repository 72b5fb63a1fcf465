"""help-desk categories and topics get a Spanish name (name_es), filled for the demo's codes

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The demo seed's codes (worker/seed.py) as they stood when this ran; other rows keep "" (English).
CATEGORY_NAMES_ES = {
    "vaccine-provider": "Proveedor de vacunas",
    "recipient": "Persona vacunada",
    "other": "Otro",
}
TOPIC_NAMES_ES = {
    "login-access": "Inicio de sesión y acceso",
    "switching-locations": "Cambio de sede",
    "documenting-doses": "Registro de dosis",
    "scheduling": "Citas",
    "vaccination-record": "Registro de vacunación",
    "other": "Otro",
}


def upgrade() -> None:
    for table, names in (("helpdesk_categories", CATEGORY_NAMES_ES), ("helpdesk_topics", TOPIC_NAMES_ES)):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("name_es", sa.String(length=100), server_default="", nullable=False))
        rows = sa.table(table, sa.column("code", sa.String), sa.column("name_es", sa.String))
        for code, name_es in names.items():
            op.execute(rows.update().where(rows.c.code == code).values(name_es=name_es))


def downgrade() -> None:
    for table in ("helpdesk_topics", "helpdesk_categories"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("name_es")
