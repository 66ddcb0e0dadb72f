"""Sessions nobody closed are closed a day after they ended, so retention can begin."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from core.models import Booking, SupportRequest
from core.services import matching, requests
from core.services.access import Ctx

LEFT_OPEN = timedelta(hours=24)
"""How long after a session's end (or a chat's match) before it counts as over."""


def close_ended_sessions(ctx: Ctx) -> int:
    """Close booked sessions that ended, and chats matched, more than a day ago (completed)."""
    cutoff = ctx.now - LEFT_OPEN
    booked = select(Booking.request_id).where(
        Booking.status == "confirmed", Booking.ends_at <= cutoff
    )
    due = ctx.session.scalars(
        select(SupportRequest.id)
        .where(
            SupportRequest.status.in_(("scheduled", "matched", "in_chat")),
            or_(
                SupportRequest.id.in_(booked),
                (SupportRequest.urgency == "now") & (SupportRequest.matched_at <= cutoff),
            ),
        )
        .order_by(SupportRequest.id)
    ).all()
    ctx.session.rollback()
    closed = 0
    for request_id in due:
        request = matching.lock_request(ctx, request_id, skip_locked=True)
        if request is None or request.status not in ("scheduled", "matched", "in_chat"):
            ctx.session.rollback()
            continue
        requests.close(ctx, request, "completed")
        ctx.session.commit()
        closed += 1
    return closed
