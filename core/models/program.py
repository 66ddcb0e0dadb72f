"""A program is one tenant: a workplace or a school, with its policy."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, id_column


class Program(Base):
    __tablename__ = "programs"
    __table_args__ = (
        CheckConstraint("min_report_group >= 5", name="report_floor"),
        CheckConstraint("session_minutes > 0", name="session_positive"),
    )

    id: Mapped[uuid.UUID] = id_column()
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # workplace | school
    time_zone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    # policy
    session_minutes: Mapped[int] = mapped_column(default=45)
    buffer_minutes: Mapped[int] = mapped_column(default=15)
    slot_step_minutes: Mapped[int] = mapped_column(default=15)
    min_notice_minutes: Mapped[int] = mapped_column(default=240)
    horizon_days: Mapped[int] = mapped_column(default=28)
    offer_timeout_minutes: Mapped[int] = mapped_column(default=10)
    offer_batch_size: Mapped[int] = mapped_column(default=3)
    now_wait_minutes: Mapped[int] = mapped_column(default=60)
    weekly_cap: Mapped[int] = mapped_column(default=5)
    concurrent_cap: Mapped[int] = mapped_column(default=2)
    retention_days: Mapped[int] = mapped_column(default=30)
    min_report_group: Mapped[int] = mapped_column(default=5)
    required_trainings: Mapped[list[Any]] = mapped_column(default=list)
    topics: Mapped[list[Any]] = mapped_column(default=list)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    modes: Mapped[list[Any]] = mapped_column(default=list)
    crisis_resources: Mapped[list[Any]] = mapped_column(default=list)
    crisis_phrases: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reminder_minutes: Mapped[list[Any]] = mapped_column(
        default=lambda: [1440, 15], server_default="[1440, 15]"
    )
    training_reminder_days: Mapped[list[Any]] = mapped_column(
        default=lambda: [90, 30], server_default="[90, 30]"
    )
    notify_email: Mapped[str | None] = mapped_column(String(320))
    change_cutoff_minutes: Mapped[int] = mapped_column(default=120, server_default="120")
