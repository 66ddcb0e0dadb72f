"""Feed tables: private calendar feed URLs, stored as digests of their tokens.

Revision ID: f001
Revises:
Create Date: 2026-11-26 02:02:15.012100
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("lms_feeds",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lms_feeds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("supporter_id", sa.Uuid(), nullable=True),
        sa.Column("student_key", sa.String(length=64), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(supporter_id IS NULL) <> (student_key IS NULL)", name=op.f("ck_lms_feeds_one_owner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lms_feeds")),
        sa.UniqueConstraint(
            "program_id", "student_key", name=op.f("uq_lms_feeds_program_id_student_key")
        ),
        sa.UniqueConstraint(
            "program_id", "supporter_id", name=op.f("uq_lms_feeds_program_id_supporter_id")
        ),
        sa.UniqueConstraint("token_digest", name=op.f("uq_lms_feeds_token_digest")),
        comment="Private calendar feed URLs, stored as digests; a deleted row is a revoked feed",
    )


def downgrade() -> None:
    op.drop_table("lms_feeds")
