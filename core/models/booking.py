"""Bookings: a supporter's time reserved for a request; never two at once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DDL, CheckConstraint, ForeignKey, Index, String, event, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, id_column


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        ExcludeConstraint(
            (text("supporter_id"), "="),
            (func.tstzrange(text("starts_at"), text("ends_at"), "[)"), "&&"),
            name="bookings_no_overlap",
            using="gist",
            where=text("status <> 'cancelled'"),
        ).ddl_if(dialect="postgresql"),
        Index("ix_bookings_supporter_starts", "supporter_id", "starts_at"),
        Index(
            "uq_bookings_active_request",
            "request_id",
            unique=True,
            postgresql_where=text("status = 'confirmed'"),
            sqlite_where=text("status = 'confirmed'"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    supporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("supporters.id"))
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("support_requests.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    calendar_uid: Mapped[str] = mapped_column(String(120), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled_by: Mapped[str | None] = mapped_column(String(16))


# SQLite has no exclusion constraints: the same rule as triggers, which run inside
# the (BEGIN IMMEDIATE, so serialized) writing transaction.
SQLITE_NO_OVERLAP = [
    """
CREATE TRIGGER bookings_no_overlap_insert BEFORE INSERT ON bookings
WHEN NEW.status <> 'cancelled' AND EXISTS (
  SELECT 1 FROM bookings b WHERE b.supporter_id = NEW.supporter_id
  AND b.status <> 'cancelled' AND b.starts_at < NEW.ends_at AND b.ends_at > NEW.starts_at)
BEGIN SELECT RAISE(ABORT, 'bookings_no_overlap'); END
""",
    """
CREATE TRIGGER bookings_no_overlap_update BEFORE UPDATE OF starts_at, ends_at, status,
supporter_id ON bookings
WHEN NEW.status <> 'cancelled' AND EXISTS (
  SELECT 1 FROM bookings b WHERE b.supporter_id = NEW.supporter_id AND b.id <> NEW.id
  AND b.status <> 'cancelled' AND b.starts_at < NEW.ends_at AND b.ends_at > NEW.starts_at)
BEGIN SELECT RAISE(ABORT, 'bookings_no_overlap'); END
""",
]

for _statement in SQLITE_NO_OVERLAP:
    event.listen(Booking.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))  # type: ignore[no-untyped-call]

event.listen(
    Booking.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
)
