"""Teams plugin tables: conversation references, keyed by a hash of the person's id.

Revision ID: t001
Revises:
Create Date: 2026-11-26 00:20:04.913864
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("teams",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_conversations",
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=300), nullable=False),
        sa.Column("service_url", sa.String(length=300), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_key"),
        comment="Conversation references, so the bot can message a person first",
    )


def downgrade() -> None:
    op.drop_table("teams_conversations")
