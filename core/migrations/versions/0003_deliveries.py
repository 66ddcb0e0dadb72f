"""Deliveries (durable outbound messages), reminder policy, requester e-mail for invites.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:33:36.367383
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("supporter_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_deliveries_dedupe_key")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_program_status", ["program_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_deliveries_status_due", ["status", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminder_minutes", sa.JSON(), nullable=False, server_default="[1440, 15]")
        )
        batch_op.add_column(
            sa.Column(
                "training_reminder_days", sa.JSON(), nullable=False, server_default="[90, 30]"
            )
        )
        batch_op.add_column(sa.Column("notify_email", sa.String(length=320), nullable=True))

    with op.batch_alter_table("requester_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_ciphertext", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requester_identities", schema=None) as batch_op:
        batch_op.drop_column("email_ciphertext")

    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("notify_email")
        batch_op.drop_column("training_reminder_days")
        batch_op.drop_column("reminder_minutes")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_due")
        batch_op.drop_index("ix_deliveries_program_status")

    op.drop_table("deliveries")
