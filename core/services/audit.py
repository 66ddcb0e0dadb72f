"""Writing and reading the append-only audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.models import AuditEvent
from core.services.access import Ctx, require


def record(
    ctx: Ctx,
    program_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None,
    **details: Any,
) -> None:
    """Add one audit event to the current unit of work; details hold no personal data."""
    ctx.session.add(
        AuditEvent(
            program_id=program_id,
            at=ctx.now,
            actor=ctx.principal.actor,
            actor_role=ctx.principal.role,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            details=details,
        )
    )


def list_events(
    ctx: Ctx,
    program_id: uuid.UUID,
    *,
    action: str | None = None,
    actor_role: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    """Events newest first; `since` inclusive, `until` exclusive; staff of the program only."""
    require(ctx.principal, program_id, "admin", "coordinator")
    query = select(AuditEvent).where(AuditEvent.program_id == program_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_role:
        query = query.where(AuditEvent.actor_role == actor_role)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id).limit(limit).offset(max(offset, 0))
    return list(ctx.session.scalars(query))


def actions(ctx: Ctx, program_id: uuid.UUID) -> list[str]:
    """The actions this program's trail holds, for a filter's choices."""
    require(ctx.principal, program_id, "admin", "coordinator")
    query = select(AuditEvent.action).where(AuditEvent.program_id == program_id).distinct()
    return sorted(ctx.session.scalars(query))
