"""Slack events handled, in the database: a retry reaching another process is still run once."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from integrations.slack.storage import EVENTS_SEEN

if TYPE_CHECKING:
    from core.runtime import Runtime

KEEP = timedelta(hours=1)  # Slack's last retry comes about 5 minutes after the event


class DatabaseEventLedger:
    """An insert that skips a known id claims an event; old ids are swept as new ones come."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def claim(self, event_id: str) -> bool:
        now = self.runtime.clock.now()
        engine = self.runtime.engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        with engine.begin() as connection:
            connection.execute(delete(EVENTS_SEEN).where(EVENTS_SEEN.c.seen_at < now - KEEP))
            added = connection.execute(
                insert(EVENTS_SEEN)
                .values(event_id=event_id[:64], seen_at=now)
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(EVENTS_SEEN.c.event_id)
            ).scalar()
        return added is not None

    def forget(self, event_id: str) -> None:
        """A failed event is forgotten, so Slack's retry runs it again."""
        with self.runtime.engine.begin() as connection:
            connection.execute(delete(EVENTS_SEEN).where(EVENTS_SEEN.c.event_id == event_id[:64]))
