"""Timers: reminders before sessions, training-expiry notices and feedback prompts.

Each is a scan that decides deliveries by dedupe key, so running it on several
workers at once, or twice, sends every message once.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.models import Booking, Delivery, Program, Supporter, SupportRequest, TrainingRecord
from core.notify import router
from core.notify.outbox import stage
from core.ports import Notification
from core.services.access import Ctx

LATE_LIMIT = timedelta(hours=6)
"""A reminder more than this late (workers were down) is no longer useful; it is skipped."""
LAPSED_NOTICE_DAYS = 7


def booking_reminders(ctx: Ctx) -> int:
    """Remind both sides at each of the program's points before a session."""
    longest = timedelta(minutes=max(_all_reminder_minutes(ctx), default=0))
    rows = ctx.session.execute(
        select(Booking, Program)
        .join(Program, Program.id == Booking.program_id)
        .where(
            Booking.status == "confirmed",
            Booking.starts_at > ctx.now,
            Booking.starts_at <= ctx.now + longest,
        )
    ).all()
    notes: list[Notification] = []
    for booking, program in rows:
        for minutes in program.reminder_minutes:
            point = booking.starts_at - timedelta(minutes=int(minutes))
            if booking.updated_at < point <= ctx.now and ctx.now - point <= LATE_LIMIT:
                notes += router.booking_notifications(
                    ctx.session,
                    booking,
                    "booking_reminder",
                    key_suffix=f":{minutes}",
                    minutes_before=int(minutes),
                )
    return _stage_new(ctx, notes)


def _all_reminder_minutes(ctx: Ctx) -> list[int]:
    lists = ctx.session.scalars(select(Program.reminder_minutes)).all()
    return [int(m) for each in lists for m in each]


def training_notices(ctx: Ctx) -> int:
    """Tell supporter and coordinator before a required training lapses, and when it has."""
    notes: list[Notification] = []
    for program in ctx.session.scalars(select(Program)):
        if not program.required_trainings:
            continue
        today = ctx.now.astimezone(ZoneInfo(program.time_zone)).date()
        for supporter in ctx.session.scalars(
            select(Supporter).where(
                Supporter.program_id == program.id, Supporter.status != "offboarded"
            )
        ):
            for record in _latest_required(program, supporter):
                notes += _training_notes(ctx, program, supporter, record, today)
    return _stage_new(ctx, notes)


def _latest_required(program: Program, supporter: Supporter) -> list[TrainingRecord]:
    latest: dict[str, TrainingRecord] = {}
    for record in supporter.trainings:
        if record.name in program.required_trainings and record.expires_on is not None:
            kept = latest.get(record.name)
            if kept is None or (kept.expires_on or date.min) < record.expires_on:
                latest[record.name] = record
    return list(latest.values())


def _training_notes(
    ctx: Ctx, program: Program, supporter: Supporter, record: TrainingRecord, today: date
) -> list[Notification]:
    assert record.expires_on is not None
    days_left = (record.expires_on - today).days
    if days_left <= 0:
        if -days_left > LAPSED_NOTICE_DAYS:
            return []
        kind, key = "training_lapsed", f"training_lapsed:{record.id}"
    else:
        due = [d for d in sorted(int(x) for x in program.training_reminder_days) if days_left <= d]
        if not due:
            return []
        kind, key = "training_expiring", f"training_expiring:{record.id}:{due[0]}"
    details: dict[str, Any] = {
        "supporter_alias": supporter.alias,
        "training": record.name,
        "expires_on": record.expires_on.isoformat(),
        "days_left": max(days_left, 0),
    }
    notes = router.to_supporter(ctx.session, supporter, kind, f"{key}:supporter", **details)
    if program.notify_email:
        notes.append(
            Notification(
                dedupe_key=f"{key}:coordinator",
                program_id=program.id,
                audience="coordinator",
                kind=kind,
                supporter_id=supporter.id,
                data=router.snapshot(ctx.session, program, "coordinator") | details,
            )
        )
    return notes


def feedback_prompts(ctx: Ctx) -> int:
    """Ask the requester for feedback once a booked session has ended (once per request)."""
    rows = ctx.session.scalars(
        select(Booking).where(
            Booking.status == "confirmed",
            Booking.ends_at <= ctx.now,
            Booking.ends_at > ctx.now - LATE_LIMIT,
        )
    ).all()
    notes: list[Notification] = []
    for booking in rows:
        request = ctx.session.get_one(SupportRequest, booking.request_id)
        if request.feedback_given:
            continue
        supporter = ctx.session.get_one(Supporter, booking.supporter_id)
        notes += router.to_requester(
            ctx.session,
            request,
            "feedback_prompt",
            f"feedback_prompt:{request.id}",
            supporter_alias=supporter.alias,
        )
    return _stage_new(ctx, notes)


def _stage_new(ctx: Ctx, notes: list[Notification]) -> int:
    """Stage what was not decided before (the insert would skip it anyway; this saves the work)."""
    keys = [n.dedupe_key for n in notes]
    known = set(
        ctx.session.scalars(select(Delivery.dedupe_key).where(Delivery.dedupe_key.in_(keys)))
    )
    fresh = [n for n in notes if n.dedupe_key not in known]
    added = len(stage(ctx.session, fresh, ctx.now)) if fresh else 0
    ctx.session.commit()
    return added
