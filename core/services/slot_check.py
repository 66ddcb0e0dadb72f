"""One slot of one locked supporter re-checked in a single query: the booking's last look.

A slot search answers the same question for one slot with a candidate read, then hours,
overrides, bookings, outside busy times and chats, one query each. Under the booking
lock the supporter row is in hand already, and the five reads are one UNION ALL of typed
rows, so the check costs one round trip. The answer is the search's, rule for rule: the same
candidate test, the same windows, buffers, weekly caps, training lapses and busy times, fed
to the same `free_starts` (tests/integration/test_slot_check.py holds the two to that).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    Uuid,
    bindparam,
    cast,
    exists,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from core.db import UTCDateTime
from core.domain.availability import DateOverride, Interval, WeeklyWindow, free_starts, utc_instant
from core.models import (
    AvailabilityOverride,
    AvailabilityRule,
    Booking,
    ExternalBusy,
    Program,
    Supporter,
    SupportRequest,
)
from core.services import busy, capacity
from core.services.access import Ctx
from core.services.roster import training_state
from core.services.slots import Candidate, Training, blocked_times, policy_of

RULE, OVERRIDE, BOOKING, BUSY, CHAT = range(5)
NO_BOOKING = uuid.UUID(int=0)  # no booking's id (ids are random): "ignore none"
_SEARCHED = timedelta(minutes=1)  # [start, start + 1 minute), as a search for one slot


def _typed(value: Any, type_: Any) -> ColumnElement[Any]:
    """A branch's column, or a NULL cast to the column's type (PostgreSQL types the union)."""
    return cast(null(), type_) if value is None else value


def _row(
    kind: int,
    *,
    weekday: Any = None,
    first: Any = None,
    last: Any = None,
    on_date: Any = None,
    available: Any = None,
    starts: Any = None,
    ends: Any = None,
) -> list[ColumnElement[Any]]:
    """kind, weekday, first minute, last minute, date, available, starts at, ends at."""
    return [
        literal_column(str(kind), Integer).label("kind"),
        _typed(weekday, Integer).label("weekday"),
        _typed(first, Integer).label("first"),
        _typed(last, Integer).label("last"),
        _typed(on_date, Date).label("on_date"),
        _typed(available, Boolean).label("available"),
        _typed(starts, UTCDateTime).label("starts"),
        _typed(ends, UTCDateTime).label("ends"),
    ]


def _statement() -> Any:
    """Built once: hours, overrides, bookings, fresh outside busy times and talk-now chats."""
    who = bindparam("supporter_id", type_=Uuid)
    r, o, b, e, q = AvailabilityRule, AvailabilityOverride, Booking, ExternalBusy, SupportRequest
    ours = exists().where(  # our own session's event in their calendar: see busy.busy_intervals
        b.supporter_id == e.supporter_id, b.starts_at == e.starts_at, b.ends_at == e.ends_at
    )
    return union_all(
        select(*_row(RULE, weekday=r.weekday, first=r.start_minute, last=r.end_minute)).where(
            r.supporter_id == who
        ),
        select(
            *_row(
                OVERRIDE,
                first=o.start_minute,
                last=o.end_minute,
                on_date=o.on_date,
                available=o.available,
            )
        ).where(
            o.supporter_id == who,
            o.on_date.between(
                bindparam("first_day", type_=Date), bindparam("last_day", type_=Date)
            ),
        ),
        select(*_row(BOOKING, starts=b.starts_at, ends=b.ends_at)).where(
            b.supporter_id == who,
            b.status != "cancelled",
            b.ends_at > bindparam("since", type_=UTCDateTime),
            b.starts_at < bindparam("until", type_=UTCDateTime),
            b.id != bindparam("ignore", type_=Uuid),
        ),
        select(*_row(BUSY, starts=e.starts_at, ends=e.ends_at)).where(
            e.supporter_id == who,
            e.ends_at > bindparam("near_start", type_=UTCDateTime),
            e.starts_at < bindparam("near_end", type_=UTCDateTime),
            e.fetched_at > bindparam("fresh_after", type_=UTCDateTime),
            ~ours,
        ),
        select(*_row(CHAT, starts=q.matched_at)).where(
            q.supporter_id == who,
            q.urgency == "now",
            q.matched_at >= bindparam("weeks_start", type_=UTCDateTime),
            q.matched_at < bindparam("weeks_end", type_=UTCDateTime),
        ),
    )


RECHECK = _statement()


class Found(NamedTuple):
    """What the one query read, by kind; in no order, as the rules sort what they use."""

    weekly: list[WeeklyWindow]
    overrides: list[DateOverride]
    bookings: list[tuple[datetime, datetime]]
    busy: list[Interval]
    chats: list[datetime]


def _read(ctx: Ctx, params: dict[str, Any]) -> Found:
    found = Found([], [], [], [], [])
    for kind, weekday, first, last, on_date, available, starts, ends in ctx.session.execute(
        RECHECK, params
    ):
        if kind == RULE:
            found.weekly.append(WeeklyWindow(weekday, first, last))
        elif kind == OVERRIDE:
            found.overrides.append(DateOverride(on_date, available, first, last))
        elif kind == BOOKING:
            found.bookings.append((starts, ends))
        elif kind == BUSY:
            found.busy.append(Interval(starts, ends))
        else:
            found.chats.append(starts)
    return found


def candidate(supporter: Supporter, program: Program) -> Candidate:
    """The locked row as a slot search's candidate; trainings read only when required."""
    trainings: tuple[Training, ...] = ()
    if program.required_trainings:
        trainings = tuple(
            Training(t.name, t.completed_on, t.expires_on) for t in supporter.trainings
        )
    return Candidate(
        supporter.id,
        supporter.alias,
        supporter.time_zone,
        supporter.languages,
        supporter.weekly_cap,
        trainings,
    )


def is_bookable(
    ctx: Ctx,
    program: Program,
    supporter: Supporter,
    starts_at: datetime,
    ignore_booking: uuid.UUID | None = None,
) -> bool:
    """Whether one exact slot of a supporter locked in this transaction is offered right now."""
    if not ctx.now <= starts_at <= ctx.now + timedelta(days=program.horizon_days):
        return False
    zone = ZoneInfo(program.time_zone)
    if supporter.status != "active" or supporter.program_id != program.id:
        return False
    person = candidate(supporter, program)
    if not training_state(person, program.required_trainings, _today(ctx, zone)).current:
        return False
    policy = policy_of(program)
    window_end = starts_at + _SEARCHED
    reach = policy.session + policy.buffer
    near_start, near_end = starts_at - reach, window_end + reach
    weeks = capacity.weeks_between(starts_at, window_end + policy.session, zone)
    since, until = min(near_start, weeks[0].start), max(near_end, weeks[-1].end)
    found = _read(
        ctx,
        {
            "supporter_id": supporter.id,
            "first_day": (near_start - timedelta(days=2)).date(),
            "last_day": (near_end + timedelta(days=2)).date(),
            "since": since,
            "until": until,
            "ignore": ignore_booking or NO_BOOKING,
            "near_start": near_start,
            "near_end": near_end,
            "fresh_after": ctx.now - busy.FRESH_FOR,
            "weeks_start": weeks[0].start,
            "weeks_end": weeks[-1].end,
        },
    )
    load = capacity.sessions_per_week(
        ctx,
        program,
        [supporter.id],
        weeks,
        booked=[(supporter.id, lo) for lo, _ in found.bookings],
        chats=[(supporter.id, moment) for moment in found.chats],
    )
    blocked = blocked_times(person, program, weeks, load, zone, ctx.now) + found.busy
    near = [
        Interval.trusted(lo, hi) for lo, hi in found.bookings if hi > near_start and lo < near_end
    ]
    seconds = free_starts(
        ZoneInfo(supporter.time_zone),
        found.weekly,
        found.overrides,
        bookings=near,
        blocked=blocked,
        policy=policy,
        now=ctx.now,
        window_start=starts_at,
        window_end=window_end,
    )
    return any(utc_instant(second) == starts_at for second in seconds)


def _today(ctx: Ctx, zone: ZoneInfo) -> date:
    return ctx.now.astimezone(zone).date()
