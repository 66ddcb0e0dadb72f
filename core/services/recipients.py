"""Where a notification's recipient is reached: resolved at send time, never stored."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Program, RequesterIdentity, SupporterContact
from core.ports import Notification
from core.services.access import Ctx


def address_of(ctx: Ctx, notification: Notification, platform: str) -> str | None:
    """The recipient's address on `platform` (e-mail, Slack user id, ...), or None.

    Only the system role (workers, channels) may ask: this is where an encrypted
    requester identity is opened, so it is never reachable over HTTP.
    """
    if ctx.principal.role != "system":
        raise PermissionError("only the delivery worker resolves addresses")
    if notification.audience == "supporter" and notification.supporter_id is not None:
        return supporter_address(ctx.session, notification.supporter_id, platform)
    if notification.audience == "coordinator":
        program = ctx.session.get(Program, notification.program_id)
        return program.notify_email if program is not None and platform == "email" else None
    if notification.audience == "requester" and notification.request_id is not None:
        return _requester_address(ctx, notification, platform)
    return None


def _requester_address(ctx: Ctx, notification: Notification, platform: str) -> str | None:
    row = ctx.session.scalar(
        select(RequesterIdentity).where(RequesterIdentity.request_id == notification.request_id)
    )
    if row is None or ctx.cipher is None:  # purged after the retention window, or never given
        return None
    if row.platform == platform:
        return ctx.cipher.decrypt(row.ciphertext)
    if platform == "email" and row.email_ciphertext is not None:
        return ctx.cipher.decrypt(row.email_ciphertext)
    return None


NO_ADDRESS_PLATFORMS = frozenset({"lti", "lms", "web"})
"""Identities that are only an id (an LMS user, a web visitor): nothing can be sent to them."""


def left_no_address(session: Session, notification: Notification) -> bool:
    """True when the requester gave no way to reach them (or it was forgotten after retention).

    A student who books from the LMS without an e-mail address chose that; their messages are
    skipped, not dead letters, so the dead-letter list keeps only real failures. Whether the
    identity is set is read without opening it.
    """
    if notification.audience != "requester" or notification.request_id is None:
        return False
    row = session.scalar(
        select(RequesterIdentity).where(RequesterIdentity.request_id == notification.request_id)
    )
    if row is None:
        return True
    return row.platform in NO_ADDRESS_PLATFORMS and row.email_ciphertext is None


def supporter_address(session: Session, supporter_id: uuid.UUID, platform: str) -> str | None:
    """A supporter's address on a platform (supporters are not anonymous; requesters are)."""
    return session.scalar(
        select(SupporterContact.address)
        .where(SupporterContact.supporter_id == supporter_id, SupporterContact.platform == platform)
        .order_by(SupporterContact.address)
        .limit(1)
    )
