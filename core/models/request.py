"""Anonymous support requests, the offers made for them, and unlinkable feedback."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from core.models.base import Base, id_column


class SupportRequest(Base):
    __tablename__ = "support_requests"
    __table_args__ = (
        Index("ix_requests_program_status", "program_id", "status"),
        Index("ix_requests_supporter_matched", "supporter_id", "matched_at"),  # weekly caps
    )

    id: Mapped[uuid.UUID] = id_column()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    alias: Mapped[str] = mapped_column(String(80))
    topic: Mapped[str] = mapped_column(String(80))
    urgency: Mapped[str] = mapped_column(String(16))  # now | scheduled
    mode: Mapped[str] = mapped_column(String(16))  # text | video | in_person
    language: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    is_urgent: Mapped[bool] = mapped_column(default=False)
    crisis_signposted: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default="api")
    supporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("supporters.id"))
    excluded_supporter_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    first_offered_at: Mapped[datetime | None]
    matched_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    feedback_given: Mapped[bool] = mapped_column(default=False)
    # Whether a RequesterIdentity row exists: None unless the query that loaded the request
    # asked (with_expression), as the booking's lock does so its commit need not ask again
    has_identity: Mapped[bool | None] = query_expression()


class RequesterIdentity(Base):
    """Who asked, encrypted; its own table so no join leaks it by accident."""

    __tablename__ = "requester_identities"

    id: Mapped[uuid.UUID] = id_column()
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("support_requests.id", ondelete="CASCADE"), unique=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    lookup_hash: Mapped[str] = mapped_column(String(64), index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    # where e-mail confirmations and invites go, when the person gave an address
    email_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        Index("uq_offers_request_supporter", "request_id", "supporter_id", unique=True),
        Index("ix_offers_status_expires", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("support_requests.id"))
    supporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("supporters.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]


class Feedback(Base):
    """Rating after a session; holds no request, supporter or requester link."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[uuid.UUID] = id_column()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_on: Mapped[date]
