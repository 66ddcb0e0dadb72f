"""Teams meetings: which calendar event belongs to which booking, so changes reach it.

Revision ID: t003
Revises: t002
Create Date: 2026-11-26 01:16:21.117372
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t003"
down_revision: str | Sequence[str] | None = "t002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_meetings",
        sa.Column("booking_uid", sa.String(length=120), nullable=False),
        sa.Column("owner_id", sa.String(length=320), nullable=False),
        sa.Column("event_id", sa.String(length=500), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("link_sent", sa.Boolean(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("booking_uid"),
        comment="Teams meetings in supporters' calendars, by booking, so changes reach the event",
    )
    with op.batch_alter_table("teams_meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_meetings_ends_at"), ["ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("teams_meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_meetings_ends_at"))

    op.drop_table("teams_meetings")
