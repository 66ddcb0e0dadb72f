"""Slack events handled, in the database: a retry reaching another process is still run once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from integrations.slack.storage import EVENTS_SEEN

if TYPE_CHECKING:
    from core.runtime import Runtime

KEEP = timedelta(hours=1)  # Slack's last retry comes about 5 minutes after the event
SWEEP_EVERY = timedelta(minutes=1)  # old ids go in one batch, not one delete per claim


class DatabaseEventLedger:
    """An insert that skips a known id claims an event: one statement before Slack's 200.

    The statement is its own transaction, and on SQLite its commit is not flushed to disk:
    any later durable commit flushes it too (core.db.one_statement), so a power cut can
    only lose a claim whose event had written nothing durable yet, and Slack's retry of
    it then runs it, as it should.

    Ids older than KEEP are swept at most once a SWEEP_EVERY per process, apart from claims.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._swept_at: datetime | None = None
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        now = self.runtime.clock.now()
        if self._sweep_due(now):
            self.sweep(now)
        claim = _CLAIMS[self.runtime.engine.dialect.name]
        values = {"event_id": event_id[:64], "seen_at": now}
        with self.runtime.one_statement(flush=False) as connection:
            return connection.execute(claim, values).rowcount == 1

    def forget(self, event_id: str) -> None:
        """A failed event is forgotten, so Slack's retry runs it again."""
        with self.runtime.engine.begin() as connection:
            connection.execute(delete(EVENTS_SEEN).where(EVENTS_SEEN.c.event_id == event_id[:64]))

    def sweep(self, now: datetime) -> None:
        """Ids past KEEP can no longer be retried by Slack, nor replayed (5-minute window)."""
        with self.runtime.engine.begin() as connection:
            connection.execute(delete(EVENTS_SEEN).where(EVENTS_SEEN.c.seen_at < now - KEEP))

    def _sweep_due(self, now: datetime) -> bool:
        with self._lock:
            due = self._swept_at is None or now - self._swept_at >= SWEEP_EVERY
            if due:
                self._swept_at = now
            return due


def _claiming(insert: Callable[[Table], postgresql.Insert | sqlite.Insert]) -> Insert:
    """The insert that skips a known id: it adds a row only when the id is new.

    Built once per dialect, its values bound at each claim: every Slack request runs it.
    No RETURNING: on SQLite a statement that returns rows holds the write lock until Python
    has read them, and the row count says enough (SQLAlchemy keeps it for an INSERT only
    when asked to).
    """
    return (
        insert(EVENTS_SEEN)
        .values(event_id=bindparam("event_id"), seen_at=bindparam("seen_at"))
        .on_conflict_do_nothing(index_elements=["event_id"])
        .execution_options(preserve_rowcount=True)
    )


_CLAIMS = {"postgresql": _claiming(postgresql.insert), "sqlite": _claiming(sqlite.insert)}
