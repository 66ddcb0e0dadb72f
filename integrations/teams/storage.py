"""The Teams plugin's own tables: where each person's 1:1 chat with the bot is.

Found by the core's migrations through the `peerline.schemas` entry point; the
revisions live in `migrations/` on the `teams` branch.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

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
