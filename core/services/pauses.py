"""Pauses that end by themselves: a supporter who said "until Monday" is back on Monday."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.models import Program, Supporter
from core.services import audit
from core.services.access import Ctx


def resume_ended_pauses(ctx: Ctx) -> int:
    """Supporters whose pause date has come are active again (one commit per supporter)."""
    rows = ctx.session.execute(
        select(Supporter, Program)
        .join(Program, Program.id == Supporter.program_id)
        .where(Supporter.status == "paused", Supporter.paused_until.is_not(None))
    ).all()
    resumed = 0
    for supporter, program in rows:
        today = ctx.now.astimezone(ZoneInfo(program.time_zone)).date()
        if supporter.paused_until is None or supporter.paused_until > today:
            continue
        supporter.status, supporter.paused_until = "active", None
        supporter.status_changed_at = ctx.now
        audit.record(
            ctx, program.id, "supporter.resumed", "supporter", supporter.id, by="pause end"
        )
        ctx.session.commit()
        resumed += 1
    ctx.session.rollback()
    return resumed
