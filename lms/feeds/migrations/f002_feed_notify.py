"""A rotated or revoked feed token is told to every process as it commits (PostgreSQL).

Revision ID: f002
Revises: f001
Create Date: 2026-11-26 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from lms.feeds.storage import FEEDS_NOTIFY

revision: str = "f002"
down_revision: str | Sequence[str] | None = "f001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in FEEDS_NOTIFY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS lms_feeds_notify ON lms_feeds")
        op.execute("DROP FUNCTION IF EXISTS lms_feeds_notify()")
