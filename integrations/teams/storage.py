"""The Teams plugin's own tables: people's 1:1 chats with the bot, offer cards, meetings.

Found by the core's migrations through the `peerline.schemas` entry point; the
revisions live in `migrations/` on the `teams` branch.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

CONVERSATIONS = Table(
    "teams_conversations",
    metadata,
    # the core's keyed hash of the person's Entra object id, never the id itself
    Column("user_key", String(64), primary_key=True),
    Column("conversation_id", String(300), nullable=False),
    Column("service_url", String(300), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    comment="Conversation references, so the bot can message a person first",
)

OFFER_CARDS = Table(
    "teams_offer_cards",
    metadata,
    Column("key", String(200), primary_key=True),  # the offer_made delivery's dedupe key
    Column("service_url", String(300), nullable=False),
    Column("conversation_id", String(300), nullable=False),
    Column("activity_id", String(300), nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False, index=True),
    comment="Where an offer card was sent, so 'taken' and 'expired' refresh it in place",
)

MEETINGS = Table(
    "teams_meetings",
    metadata,
    Column("booking_uid", String(120), primary_key=True),
    # whose calendar holds the event (the supporter's Entra object id), so it can be moved or
    # deleted even after their contact changed; the row goes when the event does
    Column("owner_id", String(320), nullable=False),
    Column("event_id", String(500), nullable=False),
    Column("sequence", Integer, nullable=False),  # the booking sequence the event shows
    Column("link_sent", Boolean, nullable=False),  # the join link was queued to both sides
    Column("ends_at", DateTime(timezone=True), nullable=False, index=True),
    comment="Teams meetings in supporters' calendars, by booking, so changes reach the event",
)

ACTIVITIES_SEEN = Table(
    "teams_activities_seen",
    metadata,
    Column("activity_key", String(64), primary_key=True),  # SHA-256 of conversation + activity id
    Column("keep_until", DateTime(timezone=True), nullable=False, index=True),
    comment="Activities handled, until their token expires: a resent one is handled once",
)
