"""Busy times from outside calendars (free/busy): external_busy, stretches only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 01:16:13.359877
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_busy",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_external_busy_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["supporter_id"],
            ["supporters.id"],
            name=op.f("fk_external_busy_supporter_id_supporters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_busy")),
    )
    with op.batch_alter_table("external_busy", schema=None) as batch_op:
        batch_op.create_index(
            "ix_external_busy_supporter_starts", ["supporter_id", "starts_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("external_busy", schema=None) as batch_op:
        batch_op.drop_index("ix_external_busy_supporter_starts")

    op.drop_table("external_busy")
