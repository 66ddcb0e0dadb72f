"""Slack relays: talk-now chats passed between two DMs, keyed by the requester's hash, not id.

Ending a chat sets ended_at and blanks requester_key, so no mapping outlives the chat.

Revision ID: s002
Revises: s001
Create Date: 2026-11-25 23:35:00.674903
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s002"
down_revision: str | Sequence[str] | None = "s001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_relays",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("requester_key", sa.String(length=64), nullable=False),
        sa.Column("supporter_user", sa.String(length=32), nullable=False),
        sa.Column("requester_alias", sa.String(length=80), nullable=False),
        sa.Column("supporter_alias", sa.String(length=80), nullable=False),
        sa.Column("requester_thread", sa.String(length=32), nullable=True),
        sa.Column("supporter_thread", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revealed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
        comment="Talk-now chats relayed between two DMs; no requester identity outlives the chat",
    )
    with op.batch_alter_table("slack_relays", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slack_relays_requester_key", ["requester_key", "ended_at"], unique=False
        )
        batch_op.create_index(
            "ix_slack_relays_supporter_user", ["supporter_user", "ended_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_relays", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_relays_supporter_user")
        batch_op.drop_index("ix_slack_relays_requester_key")

    op.drop_table("slack_relays")
