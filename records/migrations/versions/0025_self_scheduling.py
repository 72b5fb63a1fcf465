"""self-scheduling from the public finder: the location's switch, pending self-registrations, and
the finder's free-seat summary (slots.local_day + free_seat_days, backfilled from the open slots)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 04:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import records.db

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
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
    with op.batch_alter_table("slots") as batch:
        batch.add_column(sa.Column("local_day", sa.Date(), nullable=True))
    op.create_table(
        "free_seat_days",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("free_seats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("location_id", "day", "product_code", name=op.f("pk_free_seat_days")),
    )
    _backfill()
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("release_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("admit_per_minute", sa.Integer(), nullable=False),
        sa.Column("admission_seconds", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", records.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_releases_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    op.create_index(op.f("ix_releases_location_id"), "releases", ["location_id"], unique=False)
    op.create_table(
        "queue_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("browser_key", sa.String(length=64), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("arrived_at", records.db.UTCDateTime(), nullable=False),
        sa.Column("admitted_at", records.db.UTCDateTime(), nullable=True),
        sa.Column("admission_expires_at", records.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_queue_places_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_places")),
        sa.UniqueConstraint("release_id", "browser_key", name="uq_queue_places_release_id_browser_key"),
        sa.UniqueConstraint("release_id", "email_key", name="uq_queue_places_release_id_email_key"),
    )
    op.create_index(
        "ix_queue_places_release_status", "queue_places", ["release_id", "status", "id"], unique=False
    )


def _backfill() -> None:
    """Every slot gets its local day; open slots' free seats are summed into their day."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT s.id, s.start_at, s.capacity - s.booked - s.held, s.is_open, s.product_code, "
            "s.location_id, l.time_zone FROM slots s JOIN locations l ON l.id = s.location_id"
        )
    ).all()
    summary: dict[tuple[int, object, str], int] = {}
    for slot_id, start_at, free, is_open, product, location_id, zone in rows:
        start = start_at if isinstance(start_at, datetime) else datetime.fromisoformat(str(start_at))
        day = (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone)).date()
        bind.execute(sa.text("UPDATE slots SET local_day = :day WHERE id = :id"), {"day": day, "id": slot_id})
        if is_open:
            key = (location_id, day, product)
            summary[key] = summary.get(key, 0) + max(0, int(free))
    for (location_id, day, product), free in summary.items():
        bind.execute(
            sa.text(
                "INSERT INTO free_seat_days (location_id, day, product_code, free_seats) "
                "VALUES (:location, :day, :product, :free)"
            ),
            {"location": location_id, "day": day, "product": product, "free": free},
        )


def downgrade() -> None:
    op.drop_index("ix_queue_places_release_status", table_name="queue_places")
    op.drop_table("queue_places")
    op.drop_index(op.f("ix_releases_location_id"), table_name="releases")
    op.drop_table("releases")
    op.drop_table("free_seat_days")
    with op.batch_alter_table("slots") as batch:
        batch.drop_column("local_day")
    op.drop_index("ix_self_registrations_email_key", table_name="self_registrations")
    op.drop_table("self_registrations")
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("self_scheduling")
