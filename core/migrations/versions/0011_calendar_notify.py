"""Calendar changes told as they commit (PostgreSQL LISTEN/NOTIFY), for feed polls.

Triggers on the calendar versions, and on a supporter's status and a program's deletion,
notify `peerline_calendars` (see core.calendar_watch); SQLite gets nothing.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from core.models.calendar import CALENDAR_NOTIFY, NOTIFY_FUNCTIONS, triggers_of

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in CALENDAR_NOTIFY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for trigger, table in triggers_of(CALENDAR_NOTIFY):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in NOTIFY_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
