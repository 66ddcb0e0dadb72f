"""Offer cards rewritten in place: where each was posted, kept for as long as it can change."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.ports import Notification
from integrations.slack.storage import MESSAGES

if TYPE_CHECKING:
    from core.runtime import Runtime

KEEP = timedelta(days=2)  # an offer is answered or expires long before this
UPDATES = {"offer_taken", "offer_expired"}


def remember(runtime: Runtime, notification: Notification, channel: str, ts: str) -> None:
    """Record where an offer card went; old records are swept as new ones come."""
    if notification.kind != "offer_made":
        return
    now = runtime.clock.now()
    engine = runtime.engine
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as connection:
        connection.execute(delete(MESSAGES).where(MESSAGES.c.posted_at < now - KEEP))
        connection.execute(
            insert(MESSAGES)
            .values(key=notification.dedupe_key, channel=channel, ts=ts, posted_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )


def card_of(runtime: Runtime, notification: Notification) -> tuple[str, str] | None:
    """(channel, ts) of the offer card this update is about, if it was posted here."""
    if notification.kind not in UPDATES:
        return None
    offer_key = "offer_made:" + notification.dedupe_key.split(":", 1)[1]
    with runtime.engine.connect() as connection:
        row = connection.execute(
            select(MESSAGES.c.channel, MESSAGES.c.ts).where(MESSAGES.c.key == offer_key)
        ).first()
    return (str(row.channel), str(row.ts)) if row is not None else None
