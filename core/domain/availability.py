"""Turn a supporter's weekly hours, date exceptions and bookings into bookable UTC slots."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 1440
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MAX_LOOKBACK_DAYS = 7  # how far back free_slots looks for the true start of a long stretch

_T = TypeVar("_T", int, datetime)
_Span = tuple[datetime, datetime]
_Minutes = tuple[int, int]
_Seconds = tuple[int, int]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _check_minutes(start: int, end: int, what: str) -> None:
    """Refuse minute ranges that are empty, reversed or outside one local day."""
    if not 0 <= start < end <= MINUTES_PER_DAY:
        raise ValueError(f"{what} needs 0 <= start_minute < end_minute <= 1440, got {start}..{end}")


def _as_utc(value: datetime, name: str) -> datetime:
    """Refuse naive datetimes (their instant is unknowable) and normalise to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _check_not_negative(value: timedelta, name: str) -> None:
    """Refuse negative durations, which would silently widen or reverse a rule."""
    if value < _ZERO:
        raise ValueError(f"{name} must not be negative, got {value}")


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring window in the supporter's local wall-clock time."""

    weekday: int  # 0 = Monday … 6 = Sunday
    start_minute: int  # minutes after local midnight, 0..1439
    end_minute: int  # 1..1440; 1440 = the local midnight that ends the day

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        _check_minutes(self.start_minute, self.end_minute, "WeeklyWindow")


@dataclass(frozen=True)
class DateOverride:
    """One local date's exception: extra hours, or time off (no minutes = the whole day)."""

    on_date: date
    available: bool  # True = extra hours; False = time off
    start_minute: int | None = None
    end_minute: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.on_date, datetime):
            raise ValueError("DateOverride.on_date must be a date, not a datetime")
        if (self.start_minute is None) != (self.end_minute is None):
            raise ValueError("DateOverride needs both start_minute and end_minute, or neither")
        if self.start_minute is not None and self.end_minute is not None:
            _check_minutes(self.start_minute, self.end_minute, "DateOverride")

    @property
    def minutes(self) -> _Minutes:
        """The local minute range it covers; no minutes means the whole day."""
        if self.start_minute is None or self.end_minute is None:
            return (0, MINUTES_PER_DAY)
        return (self.start_minute, self.end_minute)


@dataclass(frozen=True)
class Interval:
    """A half-open [start, end) stretch of real time, held in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_utc(self.start, "Interval.start"))
        object.__setattr__(self, "end", _as_utc(self.end, "Interval.end"))
        if self.end <= self.start:
            raise ValueError(f"Interval must end after it starts: {self.start} .. {self.end}")

    @classmethod
    def trusted(cls, start: datetime, end: datetime) -> Interval:
        """An interval of UTC instants already known to be in order, built without checks."""
        interval = object.__new__(cls)
        object.__setattr__(interval, "start", start)
        object.__setattr__(interval, "end", end)
        return interval


@dataclass(frozen=True)
class SlotPolicy:
    """A program's booking rules, applied to every supporter alike."""

    session: timedelta  # slot length
    step: timedelta  # distance between candidate starts
    buffer: timedelta  # free time required before and after every existing booking
    min_notice: timedelta  # earliest start = now + min_notice
    horizon: timedelta  # latest start < now + horizon

    def __post_init__(self) -> None:
        if self.session <= _ZERO:
            raise ValueError(f"SlotPolicy.session must be positive, got {self.session}")
        if self.step <= _ZERO:
            raise ValueError(f"SlotPolicy.step must be positive, got {self.step}")
        for name in ("buffer", "min_notice", "horizon"):
            _check_not_negative(getattr(self, name), f"SlotPolicy.{name}")


@dataclass(frozen=True)
class _Rules:
    """Windows and overrides indexed for per-date lookups."""

    weekly: dict[int, list[_Minutes]]
    extra: dict[date, list[_Minutes]]
    off: dict[date, list[_Minutes]]


def _index(weekly: Sequence[WeeklyWindow], overrides: Sequence[DateOverride]) -> _Rules:
    """Group the rules once so each local date costs a few dict lookups.

    Each weekday's windows are merged here, once, so a date without exceptions costs one
    lookup rather than a merge.
    """
    by_day: dict[int, list[_Minutes]] = {}
    for window in weekly:
        by_day.setdefault(window.weekday, []).append((window.start_minute, window.end_minute))
    rules = _Rules({day: _merge(spans) for day, spans in by_day.items()}, {}, {})
    for override in overrides:
        target = rules.extra if override.available else rules.off
        target.setdefault(override.on_date, []).append(override.minutes)
    return rules


def _merge(spans: Iterable[tuple[_T, _T]]) -> list[tuple[_T, _T]]:
    """Union of spans, so touching or overlapping pieces become one."""
    merged: list[tuple[_T, _T]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _subtract(spans: list[_Minutes], cut: _Minutes) -> list[_Minutes]:
    """Remove one time-off range from disjoint minute ranges."""
    out: list[_Minutes] = []
    for lo, hi in spans:
        if hi <= cut[0] or lo >= cut[1]:
            out.append((lo, hi))
            continue
        if lo < cut[0]:
            out.append((lo, cut[0]))
        if hi > cut[1]:
            out.append((cut[1], hi))
    return out


def _local_minutes(rules: _Rules, day: date) -> list[_Minutes]:
    """(weekly + extra hours) minus time off for one local date, in wall-clock minutes."""
    spans = rules.weekly.get(day.weekday(), [])
    if day not in rules.extra and day not in rules.off:
        return spans  # merged already (the caller does not change it)
    spans = _merge(spans + rules.extra.get(day, []))
    for cut in rules.off.get(day, []):
        spans = _subtract(spans, cut)
    return spans


def _wall_to_utc(tz: ZoneInfo, day: date, minute: int) -> datetime:
    """A local wall-clock minute as a UTC instant; gaps and folds resolve as fold=0."""
    if minute == MINUTES_PER_DAY:
        day, minute = day + _ONE_DAY, 0
    hour, minute = divmod(minute, 60)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


def _day_spans(tz: ZoneInfo, rules: _Rules, day: date) -> Iterator[_Span]:
    """One local date's availability as UTC spans."""
    for lo, hi in _local_minutes(rules, day):
        start, end = _wall_to_utc(tz, day, lo), _wall_to_utc(tz, day, hi)
        if start < end:  # a start inside a spring-forward gap can resolve past its end
            yield (start, end)


def _dates(tz: ZoneInfo, first: datetime, last: datetime) -> list[date]:
    """Local dates whose windows can touch [first, last], with a day's margin each side."""
    return list(_date_range(tz, first, last))


@lru_cache(maxsize=256)
def _date_range(tz: ZoneInfo, first: datetime, last: datetime) -> tuple[date, ...]:
    """_dates, shared by every supporter of a zone in one search."""
    day = first.astimezone(tz).date() - _ONE_DAY
    count = (last.astimezone(tz).date() - day).days + 2
    return tuple(day + timedelta(days=k) for k in range(count))


def _spans(tz: ZoneInfo, rules: _Rules, days: Iterable[date]) -> list[_Span]:
    """Merged, sorted UTC availability over the given local dates."""
    return _merge(span for day in days for span in _day_spans(tz, rules, day))


def _check_range(start: datetime, end: datetime, what: str) -> tuple[datetime, datetime]:
    """Normalise a range to UTC and refuse it reversed."""
    start, end = _as_utc(start, f"{what} start"), _as_utc(end, f"{what} end")
    if end < start:
        raise ValueError(f"{what} ends before it starts: {start} .. {end}")
    return start, end


def available_intervals(
    tz: ZoneInfo,
    weekly: Sequence[WeeklyWindow],
    overrides: Sequence[DateOverride],
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """Merged, sorted UTC intervals within [start, end) when the supporter is available."""
    start, end = _check_range(start, end, "range")
    if start == end:
        return []
    spans = _spans(tz, _index(weekly, overrides), _dates(tz, start, end))
    return [Interval(max(lo, start), min(hi, end)) for lo, hi in spans if lo < end and hi > start]


class _Busy:
    """Buffered bookings plus blocked time, merged so one bisect answers 'does it clash?'.

    Held in epoch seconds, widened outwards to whole seconds, so the check never lets a
    clash through; for the whole-second instants slots are made of it is exact.
    """

    def __init__(
        self, bookings: Sequence[Interval], blocked: Sequence[Interval], buffer: timedelta
    ) -> None:
        pad = _ceil_seconds(buffer)
        widened = [(_floor(b.start) - pad, _ceil(b.end) + pad) for b in bookings]
        self._spans = _merge(widened + [(_floor(b.start), _ceil(b.end)) for b in blocked])
        self._ends = [hi for _, hi in self._spans]

    def clashes(self, start: datetime, end: datetime) -> bool:
        """True when [start, end) overlaps busy time; touching ends do not count."""
        i = bisect_right(self._ends, _floor(start))  # first busy span ending after start
        return i < len(self._spans) and self._spans[i][0] < _ceil(end)

    def free_within(self, lo: int, hi: int) -> Iterator[_Seconds]:
        """The parts of [lo, hi) clear of busy time: a slot clashes with nothing iff it fits one."""
        cursor, i = lo, bisect_right(self._ends, lo)  # first busy span ending after lo
        while i < len(self._spans) and self._spans[i][0] < hi:
            if self._spans[i][0] > cursor:
                yield (cursor, self._spans[i][0])
            cursor = max(cursor, self._ends[i])
            i += 1
        if cursor < hi:
            yield (cursor, hi)


def _scan_dates(tz: ZoneInfo, rules: _Rules, first: datetime, last: datetime) -> list[date]:
    """Dates to scan, reaching back so a stretch running into `first` keeps its true start."""
    days = _dates(tz, first, last)
    for _ in range(_MAX_LOOKBACK_DAYS):
        earliest = _local_minutes(rules, days[0])
        if not earliest or earliest[0][0] != 0:
            break
        days.insert(0, days[0] - _ONE_DAY)
    return days


def _day_seconds(tz: ZoneInfo, rules: _Rules, day: date) -> list[_Seconds]:
    """One local date's availability as spans of UTC epoch seconds."""
    midnight, uniform = _local_midnight(tz, day)
    if uniform:  # no clock change that day: a wall-clock minute is midnight plus minutes
        return [(midnight + 60 * lo, midnight + 60 * hi) for lo, hi in _local_minutes(rules, day)]
    return [(int(lo.timestamp()), int(hi.timestamp())) for lo, hi in _day_spans(tz, rules, day)]


@lru_cache(maxsize=8192)
def _local_midnight(tz: ZoneInfo, day: date) -> tuple[int, bool]:
    """A local midnight in epoch seconds, and whether the day keeps one UTC offset throughout.

    Shared by every supporter in the zone, so a search converts each date once, not once per
    supporter. A day with a clock change takes the exact wall-clock path instead.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + _ONE_DAY
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return int(start.timestamp()), start.utcoffset() == end.utcoffset()


def _floor(moment: datetime) -> int:
    """Epoch seconds, rounded down (a busy start: whole-second starts clash as before)."""
    return (moment - _EPOCH) // _SECOND


def _ceil(moment: datetime) -> int:
    """Epoch seconds, rounded up (earliest starts and busy ends: never let a clash through)."""
    return -((_EPOCH - moment) // _SECOND)


def _ceil_seconds(length: timedelta) -> int:
    return -(-length // _SECOND)


def free_starts(
    tz: ZoneInfo,
    weekly: Sequence[WeeklyWindow],
    overrides: Sequence[DateOverride],
    *,
    bookings: Sequence[Interval],
    blocked: Sequence[Interval],
    policy: SlotPolicy,
    now: datetime,
    window_start: datetime,
    window_end: datetime,
) -> list[int]:
    """The starts of bookable slots, as UTC epoch seconds in order (see free_slots).

    Plain integers all the way: a program-wide search makes hundreds of thousands of
    candidate starts, and an object for each would cost more than the search itself.
    """
    now = _as_utc(now, "now")
    window_start, window_end = _check_range(window_start, window_end, "window")
    earliest = max(window_start, now + policy.min_notice)
    latest = min(window_end, now + policy.horizon)
    if earliest >= latest:
        return []
    first, stop = _ceil(earliest), _ceil(latest)  # whole-second starts s: s >= t iff s >= ceil t
    rules = _index(weekly, overrides)
    session, step = _ceil_seconds(policy.session), _ceil_seconds(policy.step)
    busy = _Busy(bookings, blocked, policy.buffer)
    days = [  # only the dates with hours: most supporters offer a few days a week
        day
        for day in _scan_dates(tz, rules, earliest, latest + policy.session)
        if day.weekday() in rules.weekly or day in rules.extra
    ]
    spans = _merge(span for day in days for span in _day_seconds(tz, rules, day))
    starts: list[int] = []
    for lo, hi in spans:  # starts run lo + k*step; a slot must fit a part clear of busy time
        for clear_lo, clear_hi in busy.free_within(lo, hi):
            earliest_start = max(clear_lo, first)
            begin = lo - ((lo - earliest_start) // step) * step  # first grid start >= it
            starts.extend(range(begin, min(stop, clear_hi - session + 1), step))
    return starts


def free_slots(
    tz: ZoneInfo,
    weekly: Sequence[WeeklyWindow],
    overrides: Sequence[DateOverride],
    *,
    bookings: Sequence[Interval],
    blocked: Sequence[Interval],
    policy: SlotPolicy,
    now: datetime,
    window_start: datetime,
    window_end: datetime,
) -> list[Interval]:
    """Bookable slots (each exactly policy.session long in real elapsed time), sorted by start."""
    starts = free_starts(
        tz,
        weekly,
        overrides,
        bookings=bookings,
        blocked=blocked,
        policy=policy,
        now=now,
        window_start=window_start,
        window_end=window_end,
    )
    return [Interval.trusted(start, start + policy.session) for start in map(utc_instant, starts)]


def utc_instant(seconds: int) -> datetime:
    """An epoch second as an aware UTC datetime."""
    return _EPOCH + timedelta(seconds=seconds)


def is_available(
    tz: ZoneInfo,
    weekly: Sequence[WeeklyWindow],
    overrides: Sequence[DateOverride],
    *,
    bookings: Sequence[Interval],
    buffer: timedelta,
    start: datetime,
    end: datetime,
) -> bool:
    """True when [start, end) is wholly available and clear of every booking +/- buffer."""
    start, end = _check_range(start, end, "request")
    if end == start:
        raise ValueError("is_available needs end after start")
    _check_not_negative(buffer, "buffer")
    if available_intervals(tz, weekly, overrides, start, end) != [Interval(start, end)]:
        return False
    return not _Busy(bookings, [], buffer).clashes(start, end)
