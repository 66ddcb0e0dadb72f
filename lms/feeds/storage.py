"""The feed tables: private feed tokens, revocable (branch `lms_feeds`).

Found by the core's migrations through the `peerline.schemas` entry point.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    event,
)

from core.calendar_watch import CALENDARS, EVERYTHING

metadata = MetaData(
    naming_convention={
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

FEEDS = Table(
    "lms_feeds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("program_id", Uuid, nullable=False),  # the core's ids, deliberately no foreign keys
    Column("supporter_id", Uuid),  # a supporter's feed: their sessions
    # a student's feed: the core's keyed hash of their LTI identity, never the subject
    Column("student_key", String(64)),
    # bumped on rotation; the token is derived from (id, revision), so it changes with it
    Column("revision", Integer, nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),  # SHA-256 of the token
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("program_id", "supporter_id"),
    UniqueConstraint("program_id", "student_key"),
    CheckConstraint("(supporter_id IS NULL) <> (student_key IS NULL)", name="one_owner"),
    comment="Private calendar feed URLs, stored as digests; a deleted row is a revoked feed",
)

FEEDS_NOTIFY = [
    "CREATE OR REPLACE FUNCTION lms_feeds_notify() RETURNS trigger AS $$ BEGIN "
    f"PERFORM pg_notify('{CALENDARS}', '{EVERYTHING}'); RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER lms_feeds_notify AFTER UPDATE OR DELETE ON lms_feeds "
    "FOR EACH STATEMENT EXECUTE FUNCTION lms_feeds_notify()",
]
"""PostgreSQL: a rotated or revoked token is told to every process's poll cache (lms.feeds.polls,
core.calendar_watch) as it commits. Migration f002 runs the same statements."""

for _statement in FEEDS_NOTIFY:
    event.listen(FEEDS, "after_create", DDL(_statement).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]
