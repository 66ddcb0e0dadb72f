"""Offer cards refreshed in place: where each went, kept for as long as it can change."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.ports import Notification
from integrations.teams.storage import OFFER_CARDS

if TYPE_CHECKING:
    from core.runtime import Runtime

KEEP = timedelta(days=2)  # an offer is answered or expires long before this
UPDATES = frozenset({"offer_taken", "offer_expired"})


def remember(
    runtime: Runtime, key: str, service_url: str, conversation: str, activity: str
) -> None:
    """Record where an offer card went; old records are swept as new ones come."""
    now = runtime.clock.now()
    engine = runtime.engine
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as connection:
        connection.execute(delete(OFFER_CARDS).where(OFFER_CARDS.c.posted_at < now - KEEP))
        connection.execute(
            insert(OFFER_CARDS)
            .values(
                key=key,
                service_url=service_url,
                conversation_id=conversation,
                activity_id=activity,
                posted_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )


def card_of(runtime: Runtime, notification: Notification) -> tuple[str, str, str] | None:
    """(serviceUrl, conversation, activity id) of the offer card this update is about."""
    if notification.kind not in UPDATES:
        return None
    key = "offer_made:" + notification.dedupe_key.split(":", 1)[1]
    with runtime.engine.connect() as connection:
        row = connection.execute(select(OFFER_CARDS).where(OFFER_CARDS.c.key == key)).first()
    return (row.service_url, row.conversation_id, row.activity_id) if row is not None else None
