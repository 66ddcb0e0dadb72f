"""Teams activities handled, so one resent within its token's life is handled once.

Revision ID: t004
Revises: t003
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t004"
down_revision: str | Sequence[str] | None = "t003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_activities_seen",
        sa.Column("activity_key", sa.String(length=64), nullable=False),
        sa.Column("keep_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("activity_key"),
        comment="Activities handled, until their token expires: a resent one is handled once",
    )
    with op.batch_alter_table("teams_activities_seen", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_teams_activities_seen_keep_until"), ["keep_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("teams_activities_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_activities_seen_keep_until"))

    op.drop_table("teams_activities_seen")
