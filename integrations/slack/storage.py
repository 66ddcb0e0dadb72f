"""The Slack plugin's own tables: installations (slack_sdk's stores), workspaces, events, cards.

Found by the core's migrations through the `peerline.schemas` entry point; the
revisions live in `migrations/` on the `slack` branch.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid

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

REVEALS = Table(
    "slack_reveals",
    metadata,
    Column("request_id", Uuid, primary_key=True),  # no foreign key: plugins keep to their tables
    Column("revealed_at", DateTime(timezone=True), nullable=False),
    comment="A requester told their supporter who they are: once per chat, never undone",
)

MESSAGES = Table(
    "slack_messages",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False, index=True),
    comment="Where offer and chat cards went: offers are rewritten, replies find their chat",
)
