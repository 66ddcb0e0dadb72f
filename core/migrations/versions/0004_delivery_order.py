"""Deliveries sharing an order key (a chat's lines) are sent in the order they were decided.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 23:56:30.212066
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_key", sa.String(length=120), nullable=True))
        batch_op.create_index(
            "ix_deliveries_order", ["order_key", "status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_order")
        batch_op.drop_column("order_key")
