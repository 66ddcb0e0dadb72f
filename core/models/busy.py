"""Times supporters are busy in an outside calendar: only the stretch, never what it is."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, id_column


class ExternalBusy(Base):
    """One busy stretch from a calendar plugin's free/busy, replaced whole on each refresh."""

    __tablename__ = "external_busy"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_external_busy_supporter_starts", "supporter_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    supporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("supporters.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # the plugin that read it, e.g. "teams"
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    fetched_at: Mapped[datetime]  # stale stretches stop counting (core.services.busy)
