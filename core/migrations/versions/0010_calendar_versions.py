"""Calendar versions: a counter per supporter and per requester identity, kept by triggers.

A feed's ETag comes from its owner's counter, so an unchanged feed is answered from one row
however many sessions it holds (see core.models.calendar).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.models.calendar import CALENDAR_FUNCTIONS, CALENDAR_TRIGGERS, calendar_triggers

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supporter_calendars",
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supporter_id"],
            ["supporters.id"],
            name=op.f("fk_supporter_calendars_supporter_id_supporters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("supporter_id", name=op.f("pk_supporter_calendars")),
    )
    op.create_table(
        "requester_calendars",
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lookup_hash", name=op.f("pk_requester_calendars")),
    )
    for statement in CALENDAR_TRIGGERS.get(op.get_context().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for trigger, table in calendar_triggers(dialect):
        on_table = f" ON {table}" if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}{on_table}")
    if dialect == "postgresql":
        for function in CALENDAR_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("requester_calendars")
    op.drop_table("supporter_calendars")
