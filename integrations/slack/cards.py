"""Where cards went: offer cards are rewritten in place, replies under a chat card find the chat."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.ports import Notification
from integrations.slack.storage import MESSAGES

if TYPE_CHECKING:
    from core.runtime import Runtime

KEEP = timedelta(days=2)  # an offer is answered or expires long before this
KEEP_CHAT = timedelta(days=30)  # a late reply under an old chat's card is told it has ended
UPDATES = {"offer_taken", "offer_expired"}
CARDS = {"offer_made", "relay_started"}
CHAT_CARD = "relay_started:"


def remember(runtime: Runtime, notification: Notification, channel: str, ts: str) -> None:
    """Record where an offer or chat card went; old records are swept as new ones come."""
    if notification.kind not in CARDS:
        return
    now = runtime.clock.now()
    engine = runtime.engine
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    # a chat card's DM would lead to the requester: its ts alone finds the chat for a reply
    where = channel if notification.kind == "offer_made" else ""
    old_offer = MESSAGES.c.key.startswith("offer_made:") & (MESSAGES.c.posted_at < now - KEEP)
    with engine.begin() as connection:
        connection.execute(
            delete(MESSAGES).where(old_offer | (MESSAGES.c.posted_at < now - KEEP_CHAT))
        )
        connection.execute(
            insert(MESSAGES)
            .values(key=notification.dedupe_key, channel=where, ts=ts, posted_at=now)
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


def chats_of_thread(runtime: Runtime, thread: str) -> set[uuid.UUID]:
    """The chats whose card starts a DM thread with this ts (one, but for a clash of clocks)."""
    if not thread:
        return set()
    with runtime.engine.connect() as connection:
        keys = connection.scalars(
            select(MESSAGES.c.key).where(
                MESSAGES.c.ts == thread, MESSAGES.c.key.startswith(CHAT_CARD)
            )
        )
        return {uuid.UUID(str(key).split(":")[1]) for key in keys}
