"""Searching a program's audit trail page by page, by action, actor role and time."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from core.models import AuditEvent
from core.services.access import Ctx, require

MAX_PAGE = 200


def search(
    ctx: Ctx,
    program_id: uuid.UUID,
    *,
    action: str | None = None,
    actor_role: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AuditEvent]:
    """Events newest first; `since` inclusive, `until` exclusive; staff of the program only."""
    require(ctx.principal, program_id, "admin", "coordinator")
    query = select(AuditEvent).where(AuditEvent.program_id == program_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_role:
        query = query.where(AuditEvent.actor_role == actor_role)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id)
    return list(ctx.session.scalars(query.limit(min(limit, MAX_PAGE)).offset(max(offset, 0))))


def actions(ctx: Ctx, program_id: uuid.UUID) -> list[str]:
    """The actions this program's trail holds, for a filter's choices."""
    require(ctx.principal, program_id, "admin", "coordinator")
    query = select(AuditEvent.action).where(AuditEvent.program_id == program_id).distinct()
    return sorted(ctx.session.scalars(query))
