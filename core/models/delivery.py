"""Outbound messages as rows: decided in the transaction that caused them, sent by workers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, id_column


class Delivery(Base):
    """One notification to one person; `dedupe_key` makes deciding it twice a no-op."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_due", "status", "next_attempt_at"),
        Index("ix_deliveries_program_status", "program_id", "status"),
        Index("ix_deliveries_order", "order_key", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # no foreign keys: a key-share lock on a supporter's row, taken while another
    # transaction holds it to accept an offer, would deadlock the two
    program_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    audience: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    supporter_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending -> sent | dead | skipped (no channel wanted an optional message) | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    channel: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    order_key: Mapped[str | None] = mapped_column(String(120))  # sent in order within a key
