"""Teams offer cards: where each was sent, so "taken" and "expired" refresh it in place.

Revision ID: t002
Revises: t001
Create Date: 2026-11-26 00:26:20.511502
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t002"
down_revision: str | Sequence[str] | None = "t001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_offer_cards",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("service_url", sa.String(length=300), nullable=False),
        sa.Column("conversation_id", sa.String(length=300), nullable=False),
        sa.Column("activity_id", sa.String(length=300), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        comment="Where an offer card was sent, so 'taken' and 'expired' refresh it in place",
    )
    with op.batch_alter_table("teams_offer_cards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_teams_offer_cards_posted_at"), ["posted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("teams_offer_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_offer_cards_posted_at"))

    op.drop_table("teams_offer_cards")
