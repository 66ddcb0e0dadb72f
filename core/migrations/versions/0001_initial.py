"""Initial schema: every table of core.models plus the guards SQLAlchemy cannot declare.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 21:30:00
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from core.models.audit import APPEND_ONLY
from core.models.booking import SQLITE_NO_OVERLAP

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None

# op.create_exclude_constraint cannot take the tstzrange() expression (it wants named
# columns), so the constraint is written out; test_migrations compares it with create_all.
PG_NO_OVERLAP = (
    "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist "
    "(supporter_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
    "WHERE (status <> 'cancelled')"
)

# Parents before children; downgrade drops in reverse.
TABLES = (
    "programs",
    "audit_events",
    "feedback",
    "supporters",
    "api_tokens",
    "availability_overrides",
    "availability_rules",
    "support_requests",
    "supporter_contacts",
    "training_records",
    "bookings",
    "offers",
    "requester_identities",
)


def _id() -> sa.Column[uuid.UUID]:
    return sa.Column("id", sa.Uuid(), nullable=False)


def _utc(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(
    table: str, column: str, parent: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.id"], name=op.f(f"fk_{table}_{column}_{parent}"), ondelete=ondelete
    )


def _programs() -> None:
    op.create_table(
        "programs",
        _id(),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        _utc("created_at"),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "session_minutes",
                "buffer_minutes",
                "slot_step_minutes",
                "min_notice_minutes",
                "horizon_days",
                "offer_timeout_minutes",
                "offer_batch_size",
                "now_wait_minutes",
                "weekly_cap",
                "concurrent_cap",
                "retention_days",
                "min_report_group",
            )
        ),
        *(
            sa.Column(name, sa.JSON(), nullable=False)
            for name in (
                "required_trainings",
                "topics",
                "languages",
                "modes",
                "crisis_resources",
                "crisis_phrases",
            )
        ),
        sa.CheckConstraint("min_report_group >= 5", name=op.f("ck_programs_report_floor")),
        sa.CheckConstraint("session_minutes > 0", name=op.f("ck_programs_session_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("slug", name=op.f("uq_programs_slug")),
    )


def _audit_events() -> None:
    op.create_table(
        "audit_events",
        _id(),
        sa.Column("program_id", sa.Uuid(), nullable=True),
        _utc("at"),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        _fk("audit_events", "program_id", "programs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_program_at", "audit_events", ["program_id", "at"])


def _feedback() -> None:
    op.create_table(
        "feedback",
        _id(),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_feedback_rating_range")),
        _fk("feedback", "program_id", "programs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_program_id"), "feedback", ["program_id"])


def _supporters() -> None:
    op.create_table(
        "supporters",
        _id(),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("alias", sa.String(length=80), nullable=False),
        sa.Column("external_ref", sa.String(length=120), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("modes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("weekly_cap", sa.Integer(), nullable=True),
        sa.Column("concurrent_cap", sa.Integer(), nullable=True),
        _utc("created_at"),
        _utc("status_changed_at", nullable=True),
        _utc("last_assigned_at", nullable=True),
        _fk("supporters", "program_id", "programs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supporters")),
        sa.UniqueConstraint("program_id", "alias", name="uq_supporters_program_alias"),
        sa.UniqueConstraint("program_id", "external_ref", name="uq_supporters_program_ref"),
    )
    op.create_index(op.f("ix_supporters_program_id"), "supporters", ["program_id"])


def _api_tokens() -> None:
    op.create_table(
        "api_tokens",
        _id(),
        sa.Column("program_id", sa.Uuid(), nullable=True),
        sa.Column("supporter_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _utc("created_at"),
        _utc("revoked_at", nullable=True),
        _fk("api_tokens", "program_id", "programs"),
        _fk("api_tokens", "supporter_id", "supporters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_program_id"), "api_tokens", ["program_id"])


def _availability() -> None:
    op.create_table(
        "availability_overrides",
        _id(),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=True),
        sa.Column("end_minute", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(start_minute IS NULL AND end_minute IS NULL AND available = false)"
            " OR (start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute)",
            name=op.f("ck_availability_overrides_window"),
        ),
        _fk("availability_overrides", "supporter_id", "supporters", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_overrides")),
    )
    op.create_index(
        "ix_overrides_supporter_date", "availability_overrides", ["supporter_id", "on_date"]
    )
    op.create_table(
        "availability_rules",
        _id(),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "end_minute > start_minute", name=op.f("ck_availability_rules_end_after_start")
        ),
        sa.CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440",
            name=op.f("ck_availability_rules_day_bounds"),
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_availability_rules_weekday")),
        _fk("availability_rules", "supporter_id", "supporters", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
    )
    op.create_index(
        op.f("ix_availability_rules_supporter_id"), "availability_rules", ["supporter_id"]
    )


def _support_requests() -> None:
    op.create_table(
        "support_requests",
        _id(),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("alias", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("is_urgent", sa.Boolean(), nullable=False),
        sa.Column("crisis_signposted", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("supporter_id", sa.Uuid(), nullable=True),
        sa.Column("excluded_supporter_ids", sa.JSON(), nullable=False),
        _utc("created_at"),
        _utc("first_offered_at", nullable=True),
        _utc("matched_at", nullable=True),
        _utc("closed_at", nullable=True),
        _utc("purged_at", nullable=True),
        sa.Column("feedback_given", sa.Boolean(), nullable=False),
        _fk("support_requests", "program_id", "programs"),
        _fk("support_requests", "supporter_id", "supporters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_support_requests_token_hash")),
    )
    op.create_index("ix_requests_program_status", "support_requests", ["program_id", "status"])


def _supporter_contacts() -> None:
    op.create_table(
        "supporter_contacts",
        _id(),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        _fk("supporter_contacts", "program_id", "programs"),
        _fk("supporter_contacts", "supporter_id", "supporters", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supporter_contacts")),
        sa.UniqueConstraint("program_id", "platform", "address", name="uq_contacts_address"),
    )
    op.create_index(
        op.f("ix_supporter_contacts_supporter_id"), "supporter_contacts", ["supporter_id"]
    )


def _training_records() -> None:
    op.create_table(
        "training_records",
        _id(),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        _utc("created_at"),
        sa.CheckConstraint(
            "expires_on IS NULL OR expires_on > completed_on",
            name=op.f("ck_training_records_expiry_after"),
        ),
        _fk("training_records", "supporter_id", "supporters", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_records")),
    )
    op.create_index(op.f("ix_training_records_supporter_id"), "training_records", ["supporter_id"])


def _bookings() -> None:
    op.create_table(
        "bookings",
        _id(),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        _utc("starts_at"),
        _utc("ends_at"),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("calendar_uid", sa.String(length=120), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _utc("created_at"),
        _utc("updated_at"),
        sa.Column("cancelled_by", sa.String(length=16), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_bookings_ends_after_start")),
        _fk("bookings", "program_id", "programs"),
        _fk("bookings", "request_id", "support_requests"),
        _fk("bookings", "supporter_id", "supporters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("calendar_uid", name=op.f("uq_bookings_calendar_uid")),
    )
    op.create_index(op.f("ix_bookings_program_id"), "bookings", ["program_id"])
    op.create_index("ix_bookings_supporter_starts", "bookings", ["supporter_id", "starts_at"])
    confirmed = sa.text("status = 'confirmed'")
    op.create_index(
        "uq_bookings_active_request",
        "bookings",
        ["request_id"],
        unique=True,
        postgresql_where=confirmed,
        sqlite_where=confirmed,
    )


def _offers() -> None:
    op.create_table(
        "offers",
        _id(),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("supporter_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _utc("created_at"),
        _utc("expires_at"),
        _utc("responded_at", nullable=True),
        _fk("offers", "request_id", "support_requests"),
        _fk("offers", "supporter_id", "supporters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_index("ix_offers_status_expires", "offers", ["status", "expires_at"])
    op.create_index(op.f("ix_offers_supporter_id"), "offers", ["supporter_id"])
    op.create_index(
        "uq_offers_request_supporter", "offers", ["request_id", "supporter_id"], unique=True
    )


def _requester_identities() -> None:
    op.create_table(
        "requester_identities",
        _id(),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _utc("created_at"),
        _fk("requester_identities", "request_id", "support_requests", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requester_identities")),
        sa.UniqueConstraint("request_id", name=op.f("uq_requester_identities_request_id")),
    )
    op.create_index(
        op.f("ix_requester_identities_lookup_hash"), "requester_identities", ["lookup_hash"]
    )


def _guards(dialect: str) -> None:
    """No overlapping bookings per supporter; audit_events is append-only."""
    if dialect == "postgresql":
        op.execute(PG_NO_OVERLAP)
    elif dialect == "sqlite":
        for statement in SQLITE_NO_OVERLAP:
            op.execute(statement)
    for statement in APPEND_ONLY.get(dialect, []):
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    _programs()
    _audit_events()
    _feedback()
    _supporters()
    _api_tokens()
    _availability()
    _support_requests()
    _supporter_contacts()
    _training_records()
    _bookings()
    _offers()
    _requester_identities()
    _guards(dialect)


def downgrade() -> None:
    # Dropping a table drops its indexes, constraints and triggers.
    for table in reversed(TABLES):
        op.drop_table(table)
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    # btree_gist stays: it may predate this revision or serve other schemas.
