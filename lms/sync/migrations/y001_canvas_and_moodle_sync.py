"""LMS calendar sync: the Canvas connection, appointment groups, reservations; Moodle events.

Revision ID: y001
Revises:
Create Date: 2026-11-26 02:03:47.357064
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "y001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("lms_sync",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lms_canvas_connections",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("refresh_token", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("program_id"),
        comment="The Canvas account PeerLine acts as, per program: its refresh token, encrypted",
    )
    op.create_table(
        "lms_canvas_groups",
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("week_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("week_end", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("supporter_id", "week_start"),
        sa.UniqueConstraint("group_id"),
        comment="One Canvas appointment group per supporter and week, with their free times",
    )
    with op.batch_alter_table("lms_canvas_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lms_canvas_groups_week_end"), ["week_end"], unique=False
        )

    op.create_table(
        "lms_canvas_reservations",
        sa.Column("reservation_id", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("reservation_id"),
        sa.UniqueConstraint("booking_id"),
        comment="Canvas reservations seen, and the core booking each became",
    )
    with op.batch_alter_table("lms_canvas_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lms_canvas_reservations_ends_at"), ["ends_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lms_canvas_reservations_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "lms_moodle_events",
        sa.Column("booking_uid", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("booking_uid"),
        comment="Moodle calendar events made for bookings, so a move or cancel reaches them",
    )
    with op.batch_alter_table("lms_moodle_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lms_moodle_events_ends_at"), ["ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lms_moodle_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lms_moodle_events_ends_at"))

    op.drop_table("lms_moodle_events")
    with op.batch_alter_table("lms_canvas_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lms_canvas_reservations_group_id"))
        batch_op.drop_index(batch_op.f("ix_lms_canvas_reservations_ends_at"))

    op.drop_table("lms_canvas_reservations")
    with op.batch_alter_table("lms_canvas_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lms_canvas_groups_week_end"))

    op.drop_table("lms_canvas_groups")
    op.drop_table("lms_canvas_connections")
