"""Pauses that end by themselves: supporters.paused_until.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:03:56.518287
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supporters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("supporters", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
