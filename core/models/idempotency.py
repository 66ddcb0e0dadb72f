"""Remembered answers to POSTs sent with an Idempotency-Key, so a retry never acts twice."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, id_column


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    id: Mapped[uuid.UUID] = id_column()
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]  # None while the first attempt is still running
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted: may hold a token
    created_at: Mapped[datetime] = mapped_column(index=True)
