"""Chats move to the core: slack_relays goes; a reveal is remembered in slack_reveals.

The core now routes every chat line, whatever app each side is in, so no Slack table
keeps a requester's hash or a supporter's user any more. Where chat cards went is kept
with the offer cards in slack_messages.

Revision ID: s004
Revises: s003
Create Date: 2026-11-26 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s004"
down_revision: str | Sequence[str] | None = "s003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_reveals",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("revealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
        comment="A requester told their supporter who they are: once per chat, never undone",
    )
    op.execute(
        "INSERT INTO slack_reveals (request_id, revealed_at) "
        "SELECT request_id, started_at FROM slack_relays WHERE revealed"
    )
    with op.batch_alter_table("slack_relays", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_relays_requester_key")
        batch_op.drop_index("ix_slack_relays_supporter_user")
    op.drop_table("slack_relays")
    _comment(
        "Where offer and chat cards went: offers are rewritten, replies find their chat",
    )


def downgrade() -> None:
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
    op.drop_table("slack_reveals")
    _comment("Where an offer card was posted, so 'taken' and 'expired' rewrite it in place")


def _comment(text: str) -> None:
    if op.get_bind().dialect.supports_comments:
        op.create_table_comment("slack_messages", text)
