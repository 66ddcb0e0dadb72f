"""Retention: notes and identities of closed requests are deleted after the program's window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from core.models import Delivery, IdempotencyRecord, Program, RequesterIdentity, SupportRequest
from core.services.access import Ctx


def purge_expired(ctx: Ctx) -> int:
    """Delete notes and identities of requests closed longer ago than the retention window."""
    count = 0
    for program in ctx.session.scalars(select(Program)):
        cutoff = ctx.now - timedelta(days=program.retention_days)
        due = ctx.session.scalars(
            select(SupportRequest).where(
                SupportRequest.program_id == program.id,
                SupportRequest.status == "closed",
                SupportRequest.closed_at <= cutoff,
                SupportRequest.purged_at.is_(None),
            )
        ).all()
        for request in due:
            request.note, request.purged_at = None, ctx.now
        if due:
            ctx.session.execute(
                delete(RequesterIdentity).where(
                    RequesterIdentity.request_id.in_([r.id for r in due])
                )
            )
        count += len(due)
    ctx.session.commit()
    return count


def purge_idempotency_records(ctx: Ctx, keep_for: timedelta = timedelta(hours=24)) -> int:
    """Forget remembered POST answers after a day; they may hold a requester's token."""
    result = ctx.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= ctx.now - keep_for)
    )
    ctx.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_finished_deliveries(ctx: Ctx) -> int:
    """Forget sent, skipped and dead messages after the program's retention window.

    Their snapshots hold request aliases, topics and session times; a dead letter
    nobody retried within the window goes too.
    """
    count = 0
    for program in ctx.session.scalars(select(Program)):
        cutoff = ctx.now - timedelta(days=program.retention_days)
        result = ctx.session.execute(
            delete(Delivery).where(
                Delivery.program_id == program.id,
                Delivery.status != "pending",
                Delivery.finished_at <= cutoff,
            )
        )
        count += int(result.rowcount)  # type: ignore[attr-defined]
    ctx.session.commit()
    return count
