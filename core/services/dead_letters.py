"""What admins see of outbound messages: counts, and failures to retry; never whom a request was."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from core.errors import Conflict, NotFound
from core.models import Delivery, Program, Supporter
from core.notify.outbox import remember_for_queue
from core.services import audit
from core.services.access import Ctx, require

STATUSES = ("pending", "sent", "dead", "skipped")


def summary(ctx: Ctx, program: Program) -> dict[str, int]:
    """How many messages are waiting, sent, dead-lettered or skipped in this program."""
    require(ctx.principal, program.id, "admin", "coordinator")
    counts = dict(
        ctx.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.program_id == program.id)
            .group_by(Delivery.status)
        ).all()
    )
    return {status: int(counts.get(status, 0)) for status in STATUSES}


def dead(ctx: Ctx, program: Program, limit: int = 200) -> list[tuple[Delivery, str | None]]:
    """Dead letters, newest first, with the supporter's alias when one was the recipient."""
    require(ctx.principal, program.id, "admin", "coordinator")
    rows = ctx.session.execute(
        select(Delivery, Supporter.alias)
        .outerjoin(Supporter, Supporter.id == Delivery.supporter_id)
        .where(Delivery.program_id == program.id, Delivery.status == "dead")
        .order_by(Delivery.finished_at.desc())
        .limit(limit)
    ).all()
    return [(row, alias if row.audience != "requester" else None) for row, alias in rows]


def retry(ctx: Ctx, delivery_id: uuid.UUID) -> Delivery:
    """Send a dead letter again from scratch (after the cause, e.g. an SMTP password, is fixed)."""
    row = ctx.session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound("no such delivery", field="delivery_id")
    require(ctx.principal, row.program_id, "admin", "coordinator")
    if row.status != "dead":
        raise Conflict(f"only a dead letter can be retried; this one is {row.status}")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, ctx.now
    row.finished_at = row.last_error = None
    audit.record(ctx, row.program_id, "delivery.retried", "delivery", row.id, kind=row.kind)
    remember_for_queue(ctx.session, [row.id])
    ctx.session.commit()
    return row
