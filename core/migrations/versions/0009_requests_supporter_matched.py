"""An index for the weekly-cap count of talk-now chats: support_requests(supporter_id, matched_at).

Every slot search and every offer counts each candidate's chats in the weeks searched; without
it that count reads every request of the program.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_requests_supporter_matched", "support_requests", ["supporter_id", "matched_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_requests_supporter_matched", table_name="support_requests")
