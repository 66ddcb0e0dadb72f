"""Free slots: availability minus bookings, buffers, caps, notice, horizon, lapses, outside busy."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from core.domain.availability import Interval, SlotPolicy, free_starts, utc_instant
from core.errors import ValidationFailed
from core.models import Booking, Program, Supporter, TrainingRecord
from core.services import busy, capacity
from core.services.access import Ctx
from core.services.availability import load_windows
from core.services.roster import training_state
from core.services.supporter_ids import SupporterIds, certainly_none

MAX_SEARCH_DAYS = 62
_Row = TypeVar("_Row", bound=tuple[Any, ...])


@dataclass(frozen=True)
class SlotFilter:
    start: datetime
    end: datetime
    topic: str | None = None
    language: str | None = None
    mode: str | None = None
    supporter_id: uuid.UUID | None = None
    ignore_booking: uuid.UUID | None = None  # the booking being moved


class Training(NamedTuple):
    name: str
    completed_on: date
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A supporter as a slot search sees them, read as plain columns (thousands per search)."""

    id: uuid.UUID
    alias: str
    time_zone: str
    languages: list[str]
    weekly_cap: int | None
    trainings: tuple[Training, ...]  # read only when the program requires trainings


@dataclass(frozen=True)
class FoundSlot:
    interval: Interval
    supporter: Candidate


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
        if _offers(wanted, s.topics, s.languages, s.modes)
        and training_state(s, program.required_trainings, today).current
    ]


def search_candidates(ctx: Ctx, program: Program, wanted: SlotFilter) -> list[Candidate]:
    """The same supporters as candidates(), as columns, in alias order."""
    s = Supporter
    query = _in_scope(
        select(s.id, s.alias, s.time_zone, s.languages, s.topics, s.modes, s.weekly_cap),
        program,
        wanted,
    )
    rows = [
        r for r in ctx.session.execute(query) if _offers(wanted, r.topics, r.languages, r.modes)
    ]
    records = _trainings(ctx, scope(program, wanted)) if program.required_trainings else {}
    found = [
        Candidate(r.id, r.alias, r.time_zone, r.languages, r.weekly_cap, records.get(r.id, ()))
        for r in rows
    ]
    today = ctx.now.astimezone(ZoneInfo(program.time_zone)).date()
    return sorted(
        (c for c in found if training_state(c, program.required_trainings, today).current),
        key=lambda c: c.alias,
    )


def _offers(wanted: SlotFilter, topics: list[str], languages: list[str], modes: list[str]) -> bool:
    return (
        (not wanted.topic or wanted.topic in topics)
        and (not wanted.language or wanted.language in languages)
        and (not wanted.mode or wanted.mode in modes)
    )


def scope(program: Program, wanted: SlotFilter) -> Select[tuple[uuid.UUID]]:
    """The ids of the supporters a search is about, before its topic, language and mode."""
    return _in_scope(select(Supporter.id), program, wanted)


def _in_scope(query: Select[_Row], program: Program, wanted: SlotFilter) -> Select[_Row]:
    query = query.where(Supporter.program_id == program.id, Supporter.status == "active")
    if wanted.supporter_id is not None:
        query = query.where(Supporter.id == wanted.supporter_id)
    return query


def _trainings(ctx: Ctx, ids: SupporterIds) -> dict[uuid.UUID, tuple[Training, ...]]:
    t = TrainingRecord
    by_supporter: dict[uuid.UUID, list[Training]] = defaultdict(list)
    rows = ctx.session.execute(
        select(t.supporter_id, t.name, t.completed_on, t.expires_on).where(t.supporter_id.in_(ids))
    )
    for supporter_id, name, completed_on, expires_on in rows:
        by_supporter[supporter_id].append(Training(name, completed_on, expires_on))
    return {supporter_id: tuple(found) for supporter_id, found in by_supporter.items()}


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


@dataclass(frozen=True)
class Starts:
    """A search's result as plain numbers: what a program-wide search sends in bulk.

    Slots are filed under their start (an epoch second), each as its supporter's index, so a
    search of a hundred thousand slots makes no object per slot for the garbage collector to
    walk, and putting them in order sorts only the distinct starts (a few thousand).
    """

    supporters: list[Candidate]  # in alias order
    by_start: dict[int, list[int]]  # start -> indexes into supporters, in alias order
    session: timedelta

    def pairs(self) -> Iterator[tuple[int, int]]:
        """(start's UTC epoch second, index into supporters), by start then alias."""
        for second in sorted(self.by_start):
            for index in self.by_start[second]:
                yield second, index

    def seconds(self) -> Iterable[int]:
        """Every distinct start."""
        return self.by_start.keys()

    def slots(self) -> list[FoundSlot]:
        found = []
        for second, index in self.pairs():
            begin = utc_instant(second)
            interval = Interval.trusted(begin, begin + self.session)
            found.append(FoundSlot(interval, self.supporters[index]))
        return found


def search(ctx: Ctx, program: Program, wanted: SlotFilter) -> list[FoundSlot]:
    """Every bookable slot in the range, sorted by start then supporter alias."""
    return search_starts(ctx, program, wanted).slots()


def search_starts(ctx: Ctx, program: Program, wanted: SlotFilter) -> Starts:
    """The same search, its slots kept as (start second, supporter) pairs."""
    policy = policy_of(program)
    start, end = window(ctx, program, wanted.start, wanted.end)
    if start >= end:
        return Starts([], {}, policy.session)
    wanted = SlotFilter(
        start=start,
        end=end,
        topic=wanted.topic,
        language=wanted.language,
        mode=wanted.mode,
        supporter_id=wanted.supporter_id,
        ignore_booking=wanted.ignore_booking,
    )
    supporters = search_candidates(ctx, program, wanted)
    if not supporters:
        return Starts([], {}, policy.session)
    ids = scope(program, wanted)  # every row of theirs, and of the filtered-out few: ignored
    zone = ZoneInfo(program.time_zone)
    reach = policy.session + policy.buffer
    start, end = wanted.start - reach, wanted.end + reach
    weekly, overrides = load_windows(
        ctx, ids, (start - timedelta(days=2)).date(), (end + timedelta(days=2)).date()
    )
    weeks = capacity.weeks_between(wanted.start, wanted.end + policy.session, zone)
    reach_all = min(start, weeks[0].start), max(end, weeks[-1].end)  # the window and its weeks
    rows = _booking_rows(ctx, ids, *reach_all, wanted.ignore_booking)
    bookings = _by_supporter(rows, start, end)
    elsewhere = busy.busy_intervals(ctx, ids, start, end)
    load = capacity.sessions_per_week(
        ctx, program, ids, weeks, booked=[(row[0], row[1]) for row in rows]
    )
    by_start: defaultdict[int, list[int]] = defaultdict(list)
    for index, supporter in enumerate(supporters):  # alias order: each start's list is too
        blocked = blocked_times(supporter, program, weeks, load, zone, ctx.now)
        blocked += elsewhere[supporter.id]  # busy in an outside calendar (free/busy)
        for second in free_starts(
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
            by_start[second].append(index)
    return Starts(supporters, by_start, policy.session)


def booked_intervals(
    ctx: Ctx, ids: list[uuid.UUID], start: datetime, end: datetime, ignore: uuid.UUID | None = None
) -> dict[uuid.UUID, list[Interval]]:
    """Non-cancelled bookings touching [start, end) of many supporters, in one query."""
    return _by_supporter(_booking_rows(ctx, ids, start, end, ignore), start, end)


def _by_supporter(
    rows: list[tuple[uuid.UUID, datetime, datetime]], start: datetime, end: datetime
) -> dict[uuid.UUID, list[Interval]]:
    """The rows touching [start, end), as each supporter's intervals."""
    found: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    for supporter_id, starts_at, ends_at in rows:
        if ends_at > start and starts_at < end:
            found[supporter_id].append(Interval.trusted(starts_at, ends_at))
    return found


def _booking_rows(
    ctx: Ctx, ids: SupporterIds, start: datetime, end: datetime, ignore: uuid.UUID | None
) -> list[tuple[uuid.UUID, datetime, datetime]]:
    """(supporter, start, end) of non-cancelled bookings touching [start, end), in no order."""
    if certainly_none(ids):
        return []
    return list(
        ctx.session.execute(
            select(Booking.supporter_id, Booking.starts_at, Booking.ends_at).where(
                Booking.supporter_id.in_(ids),
                Booking.status != "cancelled",
                Booking.ends_at > start,
                Booking.starts_at < end,
                Booking.id != ignore,
            )
        )
    )


def blocked_times(
    supporter: Candidate,
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
