"""Free slots: availability minus bookings, buffers, caps, notice, horizon, lapses, outside busy."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.domain.availability import Interval, SlotPolicy, free_slots
from core.errors import ValidationFailed
from core.models import Booking, Program, Supporter
from core.services import busy, capacity
from core.services.access import Ctx
from core.services.availability import load_windows
from core.services.roster import training_state

MAX_SEARCH_DAYS = 62


@dataclass(frozen=True)
class SlotFilter:
    start: datetime
    end: datetime
    topic: str | None = None
    language: str | None = None
    mode: str | None = None
    supporter_id: uuid.UUID | None = None
    ignore_booking: uuid.UUID | None = None  # the booking being moved


@dataclass(frozen=True)
class FoundSlot:
    interval: Interval
    supporter: Supporter


def policy_of(program: Program) -> SlotPolicy:
    return SlotPolicy(
        session=timedelta(minutes=program.session_minutes),
        step=timedelta(minutes=program.slot_step_minutes),
        buffer=timedelta(minutes=program.buffer_minutes),
        min_notice=timedelta(minutes=program.min_notice_minutes),
        horizon=timedelta(days=program.horizon_days),
    )


def candidates(ctx: Ctx, program: Program, wanted: SlotFilter) -> list[Supporter]:
    """Active, currently trained supporters offering the topic, language and mode."""
    query = select(Supporter).where(
        Supporter.program_id == program.id, Supporter.status == "active"
    )
    if wanted.supporter_id is not None:
        query = query.where(Supporter.id == wanted.supporter_id)
    today = ctx.now.astimezone(ZoneInfo(program.time_zone)).date()
    return [
        s
        for s in ctx.session.scalars(query)
        if (not wanted.topic or wanted.topic in s.topics)
        and (not wanted.language or wanted.language in s.languages)
        and (not wanted.mode or wanted.mode in s.modes)
        and training_state(s, program.required_trainings, today).current
    ]


def window(
    ctx: Ctx, program: Program, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The asked range (default: a week from now) cut to what can ever be booked."""
    if start is not None and end is not None and end - start > timedelta(days=MAX_SEARCH_DAYS):
        raise ValidationFailed(f"to: search at most {MAX_SEARCH_DAYS} days at once", field="to")
    latest = ctx.now + timedelta(days=program.horizon_days)
    start = min(max(start or ctx.now, ctx.now), latest)
    end = min(end or start + timedelta(days=7), latest + timedelta(days=1))
    return start, max(start, end)


def search(ctx: Ctx, program: Program, wanted: SlotFilter) -> list[FoundSlot]:
    """Every bookable slot in the range, sorted by start then supporter alias."""
    start, end = window(ctx, program, wanted.start, wanted.end)
    if start >= end:
        return []
    wanted = SlotFilter(
        start=start,
        end=end,
        topic=wanted.topic,
        language=wanted.language,
        mode=wanted.mode,
        supporter_id=wanted.supporter_id,
        ignore_booking=wanted.ignore_booking,
    )
    supporters = candidates(ctx, program, wanted)
    policy = policy_of(program)
    zone = ZoneInfo(program.time_zone)
    reach = policy.session + policy.buffer
    start, end = wanted.start - reach, wanted.end + reach
    weekly, overrides = load_windows(
        ctx, supporters, (start - timedelta(days=2)).date(), (end + timedelta(days=2)).date()
    )
    bookings = booked_intervals(ctx, [s.id for s in supporters], start, end, wanted.ignore_booking)
    elsewhere = busy.busy_intervals(ctx, [s.id for s in supporters], start, end)
    weeks = capacity.weeks_between(wanted.start, wanted.end + policy.session, zone)
    load = capacity.sessions_per_week(
        ctx, program, [s.id for s in supporters], weeks, ignore_booking=wanted.ignore_booking
    )
    found: list[FoundSlot] = []
    for supporter in supporters:
        blocked = _blocked(supporter, program, weeks, load, zone, ctx.now)
        blocked += elsewhere[supporter.id]  # busy in an outside calendar (free/busy)
        for interval in free_slots(
            ZoneInfo(supporter.time_zone),
            weekly[supporter.id],
            overrides[supporter.id],
            bookings=bookings[supporter.id],
            blocked=blocked,
            policy=policy,
            now=ctx.now,
            window_start=wanted.start,
            window_end=wanted.end,
        ):
            found.append(FoundSlot(interval, supporter))
    found.sort(key=lambda f: (f.interval.start, f.supporter.alias))
    return found


def is_bookable(
    ctx: Ctx,
    program: Program,
    supporter: Supporter,
    starts_at: datetime,
    ignore_booking: uuid.UUID | None = None,
) -> bool:
    """Whether one exact slot is offered right now (called inside the booking lock)."""
    if not ctx.now <= starts_at <= ctx.now + timedelta(days=program.horizon_days):
        return False
    wanted = SlotFilter(
        start=starts_at,
        end=starts_at + timedelta(minutes=1),
        supporter_id=supporter.id,
        ignore_booking=ignore_booking,
    )
    return any(f.interval.start == starts_at for f in search(ctx, program, wanted))


def booked_intervals(
    ctx: Ctx, ids: list[uuid.UUID], start: datetime, end: datetime, ignore: uuid.UUID | None = None
) -> dict[uuid.UUID, list[Interval]]:
    """Non-cancelled bookings touching [start, end) of many supporters, in one query."""
    by_supporter: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    if not ids:
        return by_supporter
    rows = ctx.session.execute(
        select(Booking.supporter_id, Booking.starts_at, Booking.ends_at)
        .where(
            Booking.supporter_id.in_(ids),
            Booking.status != "cancelled",
            Booking.ends_at > start,
            Booking.starts_at < end,
            Booking.id != ignore,
        )
        .order_by(Booking.starts_at)
    )
    for supporter_id, starts_at, ends_at in rows:
        by_supporter[supporter_id].append(Interval(starts_at, ends_at))
    return by_supporter


def _blocked(
    supporter: Supporter,
    program: Program,
    weeks: list[Interval],
    load: dict[tuple[uuid.UUID, datetime], int],
    zone: ZoneInfo,
    now: datetime,
) -> list[Interval]:
    """Weeks already at the cap, and everything after a required training lapses."""
    cap = capacity.weekly_cap(supporter, program)
    blocked = [w for w in weeks if load.get((supporter.id, w.start), 0) >= cap]
    state = training_state(supporter, program.required_trainings, now.astimezone(zone).date())
    horizon_end = (now + timedelta(days=program.horizon_days + 2)).date()
    if state.trained_until is not None and state.trained_until <= horizon_end:
        lapse = datetime.combine(state.trained_until, time(0), tzinfo=zone)
        blocked.append(Interval(lapse.astimezone(ZoneInfo("UTC")), lapse + timedelta(days=3650)))
    return blocked
