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
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    require(ctx.principal, program_id, "admin", "coordinator")
    query = select(AuditEvent).where(AuditEvent.program_id == program_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id).limit(limit)
    return list(ctx.session.scalars(query))
