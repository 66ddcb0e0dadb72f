"""Console accounts (people who run a program) and their signed-in sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, id_column


class ConsoleAccount(Base):
    """An admin, coordinator or supporter who signs in to the console (never a requester)."""

    __tablename__ = "console_accounts"
    __table_args__ = (
        UniqueConstraint("email", name="uq_console_accounts_email"),
        UniqueConstraint("external_issuer", "external_subject", name="uq_console_accounts_ext"),
        CheckConstraint("role IN ('admin', 'coordinator', 'supporter')", name="role_known"),
        CheckConstraint("role <> 'supporter' OR supporter_id IS NOT NULL", name="supporter_linked"),
    )

    id: Mapped[uuid.UUID] = id_column()
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id"), index=True)
    supporter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))  # lower-cased; the local sign-in name
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; None: SSO only
    # the identity provider's stable id (Entra: tenant id and object id), set on first SSO
    external_issuer: Mapped[str | None] = mapped_column(String(255))
    external_subject: Mapped[str | None] = mapped_column(String(255))
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser; the cookie holds a random token, this table only its hash."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(32))  # password | the sign-in method's name
