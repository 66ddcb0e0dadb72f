"""The Slack plugin's own tables: installations (slack_sdk's stores), workspaces, events, relays.

Found by the core's migrations through the `peerline.schemas` entry point; the
revisions live in `migrations/` on the `slack` branch.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, String, Table, Uuid

metadata = MetaData()

INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    metadata, "slack_installations"
)
BOTS = SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")

WORKSPACES = Table(
    "slack_workspaces",
    metadata,
    Column("team_id", String(32), primary_key=True),
    Column("enterprise_id", String(32)),
    Column("program_id", Uuid, nullable=False),  # no foreign key: plugins keep to their tables
    Column("linked_at", DateTime(timezone=True), nullable=False),
    comment="Which PeerLine program a Slack workspace belongs to",
)

EVENTS_SEEN = Table(
    "slack_events_seen",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
    comment="Slack retries an event it thinks failed; each event_id is handled once",
)

RELAYS = Table(
    "slack_relays",
    metadata,
    Column("request_id", Uuid, primary_key=True),  # no foreign key: plugins keep to their tables
    Column("program_id", Uuid, nullable=False),
    # the core's keyed hash of the requester's Slack user id, never the id; '' once it ends
    Column("requester_key", String(64), nullable=False),
    Column("supporter_user", String(32), nullable=False),
    Column("requester_alias", String(80), nullable=False),
    Column("supporter_alias", String(80), nullable=False),
    # the ts of each side's card: replies in its thread go to this chat
    Column("requester_thread", String(32)),
    Column("supporter_thread", String(32)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("revealed", Boolean, nullable=False, default=False),
    Index("ix_slack_relays_requester_key", "requester_key", "ended_at"),
    Index("ix_slack_relays_supporter_user", "supporter_user", "ended_at"),
    comment="Talk-now chats relayed between two DMs; no requester identity outlives the chat",
)

MESSAGES = Table(
    "slack_messages",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False, index=True),
    comment="Where an offer card was posted, so 'taken' and 'expired' rewrite it in place",
)
