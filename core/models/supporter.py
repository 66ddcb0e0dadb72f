"""Trained peer supporters, their contact points, trainings and availability."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, id_column


class Supporter(Base):
    __tablename__ = "supporters"
    __table_args__ = (
        UniqueConstraint("program_id", "alias", name="uq_supporters_program_alias"),
        UniqueConstraint("program_id", "external_ref", name="uq_supporters_program_ref"),
    )

    id: Mapped[uuid.UUID] = id_column()
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), index=True)
    alias: Mapped[str] = mapped_column(String(80))
    external_ref: Mapped[str | None] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64))
    languages: Mapped[list[Any]] = mapped_column(default=list)
    topics: Mapped[list[Any]] = mapped_column(default=list)
    modes: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    weekly_cap: Mapped[int | None]
    concurrent_cap: Mapped[int | None]
    created_at: Mapped[datetime]
    status_changed_at: Mapped[datetime | None]
    last_assigned_at: Mapped[datetime | None]
    paused_until: Mapped[date | None]  # a pause that ends by itself, in the program's time zone

    contacts: Mapped[list[SupporterContact]] = relationship(
        back_populates="supporter", cascade="all, delete-orphan", lazy="selectin"
    )
    trainings: Mapped[list[TrainingRecord]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="TrainingRecord.completed_on"
    )


class SupporterContact(Base):
    """Where a supporter is reached (slack, teams, email, lms); deleted on offboarding."""

    __tablename__ = "supporter_contacts"
    __table_args__ = (
        UniqueConstraint("program_id", "platform", "address", name="uq_contacts_address"),
    )

    id: Mapped[uuid.UUID] = id_column()
    supporter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True
    )
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    supporter: Mapped[Supporter] = relationship(back_populates="contacts")


class TrainingRecord(Base):
    __tablename__ = "training_records"
    __table_args__ = (
        CheckConstraint("expires_on IS NULL OR expires_on > completed_on", name="expiry_after"),
    )

    id: Mapped[uuid.UUID] = id_column()
    supporter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    completed_on: Mapped[date]
    expires_on: Mapped[date | None]
    created_at: Mapped[datetime]


class AvailabilityRule(Base):
    """A weekly window in the supporter's local time, minutes after local midnight."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_minute >= 0 AND end_minute <= 1440", name="day_bounds"),
        CheckConstraint("end_minute > start_minute", name="end_after_start"),
    )

    id: Mapped[uuid.UUID] = id_column()
    supporter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]


class AvailabilityOverride(Base):
    """One date's exception: time off (all day or some hours) or extra hours."""

    __tablename__ = "availability_overrides"
    __table_args__ = (
        CheckConstraint(
            "(start_minute IS NULL AND end_minute IS NULL AND available = false)"
            " OR (start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute)",
            name="window",
        ),
        Index("ix_overrides_supporter_date", "supporter_id", "on_date"),
    )

    id: Mapped[uuid.UUID] = id_column()
    supporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("supporters.id", ondelete="CASCADE"))
    on_date: Mapped[date]
    available: Mapped[bool]
    start_minute: Mapped[int | None]
    end_minute: Mapped[int | None]
