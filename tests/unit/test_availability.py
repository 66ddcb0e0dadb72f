"""Bookable slots: worked examples, DST edges, bad input, and properties against a brute force."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate, pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.domain.availability import (
    DateOverride,
    Interval,
    SlotPolicy,
    WeeklyWindow,
    available_intervals,
    free_slots,
    is_available,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
MINUTE = timedelta(minutes=1)
MON, TUE, SUN = 0, 1, 6


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def iv(start: datetime, end: datetime) -> Interval:
    return Interval(start, end)


def policy(
    session: int = 45, step: int = 15, buffer: int = 0, notice: int = 0, horizon_days: int = 365
) -> SlotPolicy:
    return SlotPolicy(
        session=timedelta(minutes=session),
        step=timedelta(minutes=step),
        buffer=timedelta(minutes=buffer),
        min_notice=timedelta(minutes=notice),
        horizon=timedelta(days=horizon_days),
    )


def slots(
    tz: ZoneInfo,
    weekly: Sequence[WeeklyWindow],
    overrides: Sequence[DateOverride] = (),
    *,
    day: date,
    bookings: Sequence[Interval] = (),
    blocked: Sequence[Interval] = (),
    rules: SlotPolicy | None = None,
    now: datetime | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> list[datetime]:
    """Slot starts over one local date (plus a day's slack), for compact expectations."""
    lo = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    window_start, window_end = window or (lo, lo + timedelta(days=2))
    found = free_slots(
        tz,
        weekly,
        overrides,
        bookings=bookings,
        blocked=blocked,
        policy=rules or policy(),
        now=now or lo - timedelta(days=1),
        window_start=window_start,
        window_end=window_end,
    )
    assert all(s.end - s.start == (rules or policy()).session for s in found)
    return [s.start for s in found]


def every(start: datetime, count: int, minutes: int) -> list[datetime]:
    return [start + timedelta(minutes=minutes * k) for k in range(count)]


# 2026-01-05 is a Monday; London is on GMT (= UTC) then, and on BST (UTC+1) on Monday 2026-06-01.
JAN_MON = date(2026, 1, 5)
JAN_TUE = date(2026, 1, 6)
MORNING = [WeeklyWindow(MON, 9 * 60, 12 * 60)]


def test_monday_morning_in_london_summer_gives_45_minute_slots_every_15_minutes() -> None:
    found = slots(LONDON, MORNING, day=date(2026, 6, 1))
    assert found == every(utc(2026, 6, 1, 8), 10, 15)  # 09:00 BST = 08:00 UTC … 11:15 BST


def test_monday_morning_in_london_winter_is_on_utc() -> None:
    assert slots(LONDON, MORNING, day=JAN_MON) == every(utc(2026, 1, 5, 9), 10, 15)


def test_a_booking_removes_the_slots_it_overlaps() -> None:
    booking = iv(utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 30))
    found = slots(LONDON, MORNING, day=JAN_MON, bookings=[booking])
    assert found == [
        utc(2026, 1, 5, 9),
        utc(2026, 1, 5, 9, 15),
        *every(utc(2026, 1, 5, 10, 30), 4, 15),
    ]


def test_the_buffer_widens_a_booking_on_both_sides() -> None:
    booking = iv(utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 30))
    found = slots(LONDON, MORNING, day=JAN_MON, bookings=[booking], rules=policy(buffer=15))
    # busy is [09:45, 10:45); 09:00-09:45 and 10:45-11:30 only touch it.
    assert found == [utc(2026, 1, 5, 9), *every(utc(2026, 1, 5, 10, 45), 3, 15)]


def test_blocked_time_is_not_widened_by_the_buffer() -> None:
    blocked = iv(utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 30))
    found = slots(LONDON, MORNING, day=JAN_MON, blocked=[blocked], rules=policy(buffer=15))
    assert found == [
        utc(2026, 1, 5, 9),
        utc(2026, 1, 5, 9, 15),
        *every(utc(2026, 1, 5, 10, 30), 4, 15),
    ]


def test_min_notice_and_horizon_cut_the_candidate_starts() -> None:
    rules = SlotPolicy(
        timedelta(minutes=45),
        timedelta(minutes=15),
        timedelta(0),
        min_notice=timedelta(hours=2),
        horizon=timedelta(hours=3),
    )
    found = slots(LONDON, MORNING, day=JAN_MON, rules=rules, now=utc(2026, 1, 5, 8))
    assert found == every(utc(2026, 1, 5, 10), 4, 15)  # 10:00 <= start < 11:00


def test_window_bounds_cut_starts_but_a_slot_may_run_past_window_end() -> None:
    window = (utc(2026, 1, 5, 9, 30), utc(2026, 1, 5, 10, 30))
    found = slots(LONDON, MORNING, day=JAN_MON, window=window)
    assert found == every(utc(2026, 1, 5, 9, 30), 4, 15)  # last one is 10:15-11:00


def test_a_step_longer_than_the_session_leaves_gaps() -> None:
    found = slots(LONDON, MORNING, day=JAN_MON, rules=policy(session=30, step=50))
    assert found == every(utc(2026, 1, 5, 9), 4, 50)  # 09:00, 09:50, 10:40, 11:30-12:00


def test_a_whole_day_off_removes_that_date_only() -> None:
    off = [DateOverride(JAN_MON, available=False)]
    assert slots(LONDON, MORNING, off, day=JAN_MON) == []
    assert slots(LONDON, MORNING, off, day=date(2026, 1, 12)) == every(utc(2026, 1, 12, 9), 10, 15)


def test_some_hours_off_split_the_window() -> None:
    off = [DateOverride(JAN_MON, False, 10 * 60, 11 * 60)]
    day = (utc(2026, 1, 5), utc(2026, 1, 6))
    assert available_intervals(LONDON, MORNING, off, *day) == [
        iv(utc(2026, 1, 5, 9), utc(2026, 1, 5, 10)),
        iv(utc(2026, 1, 5, 11), utc(2026, 1, 5, 12)),
    ]
    expected = [
        utc(2026, 1, 5, 9),
        utc(2026, 1, 5, 9, 15),
        utc(2026, 1, 5, 11),
        utc(2026, 1, 5, 11, 15),
    ]
    assert slots(LONDON, MORNING, off, day=JAN_MON) == expected


def test_extra_hours_on_a_date_without_a_weekly_window() -> None:
    extra = [DateOverride(JAN_TUE, True, 14 * 60, 15 * 60)]
    found = available_intervals(LONDON, MORNING, extra, utc(2026, 1, 6), utc(2026, 1, 7))
    assert found == [iv(utc(2026, 1, 6, 14), utc(2026, 1, 6, 15))]


def test_extra_hours_without_minutes_open_the_whole_day() -> None:
    found = available_intervals(
        LONDON, [], [DateOverride(JAN_TUE, True)], utc(2026, 1, 1), utc(2026, 2, 1)
    )
    assert found == [iv(utc(2026, 1, 6), utc(2026, 1, 7))]


@pytest.mark.parametrize("off_first", [True, False])
def test_time_off_beats_extra_hours_whatever_the_order(off_first: bool) -> None:
    extra = DateOverride(JAN_TUE, True, 14 * 60, 16 * 60)
    off = DateOverride(JAN_TUE, False, 15 * 60, 17 * 60)
    overrides = [off, extra] if off_first else [extra, off]
    found = available_intervals(LONDON, [], overrides, utc(2026, 1, 6), utc(2026, 1, 7))
    assert found == [iv(utc(2026, 1, 6, 14), utc(2026, 1, 6, 15))]


def test_time_off_beats_a_weekly_window_even_when_extra_hours_cover_it_too() -> None:
    overrides = [DateOverride(JAN_MON, True, 9 * 60, 12 * 60), DateOverride(JAN_MON, False)]
    assert available_intervals(LONDON, MORNING, overrides, utc(2026, 1, 5), utc(2026, 1, 6)) == []


def test_windows_touching_at_midnight_merge_and_slots_cross_it() -> None:
    weekly = [WeeklyWindow(MON, 22 * 60, 1440), WeeklyWindow(TUE, 0, 2 * 60)]
    found = available_intervals(LONDON, weekly, [], utc(2026, 1, 5), utc(2026, 1, 7))
    assert found == [iv(utc(2026, 1, 5, 22), utc(2026, 1, 6, 2))]
    starts = slots(LONDON, weekly, day=JAN_MON, rules=policy(session=60, step=30))
    assert starts == every(utc(2026, 1, 5, 22), 7, 30)  # 22:00 … 01:00, 23:30 spans midnight


def test_overlapping_windows_merge_into_one() -> None:
    weekly = [WeeklyWindow(MON, 9 * 60, 11 * 60), WeeklyWindow(MON, 10 * 60, 12 * 60)]
    found = available_intervals(LONDON, weekly, [], utc(2026, 1, 5), utc(2026, 1, 6))
    assert found == [iv(utc(2026, 1, 5, 9), utc(2026, 1, 5, 12))]


def test_available_intervals_are_clipped_to_the_range() -> None:
    found = available_intervals(LONDON, MORNING, [], utc(2026, 1, 5, 10), utc(2026, 1, 5, 11, 30))
    assert found == [iv(utc(2026, 1, 5, 10), utc(2026, 1, 5, 11, 30))]


def test_an_empty_range_inside_a_window_has_no_intervals() -> None:
    moment = utc(2026, 1, 5, 10)
    assert available_intervals(LONDON, MORNING, [], moment, moment) == []


def test_a_supporter_in_the_far_east_gets_the_right_utc_day() -> None:
    # Monday 09:00-12:00 in Kolkata (UTC+05:30) is Monday 03:30-06:30 UTC.
    found = available_intervals(
        ZoneInfo("Asia/Kolkata"), MORNING, [], utc(2026, 1, 4), utc(2026, 1, 7)
    )
    assert found == [iv(utc(2026, 1, 5, 3, 30), utc(2026, 1, 5, 6, 30))]


def one_day(tz: ZoneInfo, day: date, start: int, end: int) -> list[Interval]:
    weekly = [WeeklyWindow(day.weekday(), start, end)]
    return available_intervals(
        tz,
        weekly,
        [],
        utc(day.year, day.month, day.day) - timedelta(days=1),
        utc(day.year, day.month, day.day) + timedelta(days=2),
    )


NY_SPRING, NY_FALL = date(2026, 3, 8), date(2026, 11, 1)
UK_SPRING, UK_FALL = date(2026, 3, 29), date(2026, 10, 25)


DST_CASES = {  # id: (zone, local date, start minute, end minute, UTC start, UTC end) in 2026
    # New York springs forward at 02:00 EST -> 03:00 EDT.
    "ny-spring-01:00-03:00-is-1h": (NEW_YORK, NY_SPRING, 60, 180, (3, 8, 6), (3, 8, 7)),
    "ny-spring-02:30-is-03:30-EDT": (NEW_YORK, NY_SPRING, 150, 240, (3, 8, 7, 30), (3, 8, 8)),
    "ny-spring-day-is-23h": (NEW_YORK, NY_SPRING, 0, 1440, (3, 8, 5), (3, 9, 4)),
    # New York falls back at 02:00 EDT -> 01:00 EST; ambiguous times take the first pass.
    "ny-fall-00:00-03:00-is-4h": (NEW_YORK, NY_FALL, 0, 180, (11, 1, 4), (11, 1, 8)),
    "ny-fall-01:30-is-01:30-EDT": (NEW_YORK, NY_FALL, 90, 150, (11, 1, 5, 30), (11, 1, 7, 30)),
    "ny-fall-day-is-25h": (NEW_YORK, NY_FALL, 0, 1440, (11, 1, 4), (11, 2, 5)),
    # London springs forward at 01:00 GMT -> 02:00 BST, falls back at 02:00 BST -> 01:00 GMT.
    "uk-spring-00:00-03:00-is-2h": (LONDON, UK_SPRING, 0, 180, (3, 29, 0), (3, 29, 2)),
    "uk-spring-01:30-is-02:30-BST": (LONDON, UK_SPRING, 90, 180, (3, 29, 1, 30), (3, 29, 2)),
    "uk-fall-00:00-03:00-is-4h": (LONDON, UK_FALL, 0, 180, (10, 24, 23), (10, 25, 3)),
    "uk-fall-01:30-is-01:30-BST": (LONDON, UK_FALL, 90, 180, (10, 25, 0, 30), (10, 25, 3)),
}


@pytest.mark.parametrize(
    ("tz", "day", "start", "end", "utc_start", "utc_end"),
    list(DST_CASES.values()),
    ids=list(DST_CASES),
)
def test_dst_days_resolve_wall_clock_windows_to_exact_utc_instants(
    tz: ZoneInfo,
    day: date,
    start: int,
    end: int,
    utc_start: tuple[int, ...],
    utc_end: tuple[int, ...],
) -> None:
    expected = iv(utc(2026, *utc_start), utc(2026, *utc_end))
    assert one_day(tz, day, start, end) == [expected]


def test_a_window_that_starts_in_the_gap_and_ends_before_it_resolves_to_nothing() -> None:
    # 02:30 is 03:30 EDT but 03:15 is 03:15 EDT, so the window is empty in real time.
    assert one_day(NEW_YORK, NY_SPRING, 150, 195) == []


def test_hourly_slots_across_spring_forward_are_each_one_real_hour() -> None:
    weekly = [WeeklyWindow(SUN, 0, 4 * 60)]  # 00:00-04:00 local = 05:00-08:00 UTC
    found = slots(NEW_YORK, weekly, day=NY_SPRING, rules=policy(session=60, step=60))
    assert found == [utc(2026, 3, 8, 5), utc(2026, 3, 8, 6), utc(2026, 3, 8, 7)]


def test_hourly_slots_across_fall_back_include_the_repeated_hour() -> None:
    weekly = [WeeklyWindow(SUN, 0, 3 * 60)]  # 00:00-03:00 local = 04:00-08:00 UTC
    found = slots(NEW_YORK, weekly, day=NY_FALL, rules=policy(session=60, step=60))
    assert found == every(utc(2026, 11, 1, 4), 4, 60)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # DST starts 02:00 LHST (+10:30) -> 02:30 LHDT (+11:00): 01:00-04:00 is 2.5 real hours.
        (date(2026, 10, 4), (utc(2026, 10, 3, 14, 30), utc(2026, 10, 3, 17))),
        # DST ends 02:00 LHDT (+11:00) -> 01:30 LHST (+10:30): 01:00-03:00 is 2.5 real hours.
        (date(2026, 4, 5), (utc(2026, 4, 4, 14), utc(2026, 4, 4, 16, 30))),
    ],
)
def test_lord_howe_shifts_by_half_an_hour(day: date, expected: tuple[datetime, datetime]) -> None:
    end = 4 * 60 if day.month == 10 else 3 * 60
    assert one_day(LORD_HOWE, day, 60, end) == [iv(*expected)]


def test_lord_howe_gap_and_fold_times_resolve_as_fold_zero() -> None:
    # 02:15 on the spring day does not exist: fold=0 reads it at +10:30, i.e. 02:45 LHDT.
    assert one_day(LORD_HOWE, date(2026, 10, 4), 135, 240)[0].start == utc(2026, 10, 3, 15, 45)
    # 01:45 on the autumn day happens twice: the first (+11:00) is taken.
    assert one_day(LORD_HOWE, date(2026, 4, 5), 105, 240)[0].start == utc(2026, 4, 4, 14, 45)


TALK_BOOKING = iv(utc(2026, 1, 5, 10), utc(2026, 1, 5, 10, 30))


@pytest.mark.parametrize(
    ("start", "end", "buffer", "expected"),
    [
        (utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 30), 15, True),
        (utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 45), 15, True),  # touches the buffer
        (utc(2026, 1, 5, 9), utc(2026, 1, 5, 9, 46), 15, False),  # one minute into the buffer
        (utc(2026, 1, 5, 9, 15), utc(2026, 1, 5, 10), 0, True),  # touches the booking
        (utc(2026, 1, 5, 10, 15), utc(2026, 1, 5, 10, 45), 0, False),  # overlaps the booking
        (utc(2026, 1, 5, 11, 30), utc(2026, 1, 5, 12), 0, True),  # ends with the window
        (utc(2026, 1, 5, 11, 45), utc(2026, 1, 5, 12, 15), 0, False),  # runs past the window
        (utc(2026, 1, 5, 8, 45), utc(2026, 1, 5, 9, 15), 0, False),  # starts before the window
        (utc(2026, 1, 6, 9), utc(2026, 1, 6, 9, 30), 0, False),  # Tuesday: no window
    ],
)
def test_is_available_for_talk_now(
    start: datetime, end: datetime, buffer: int, expected: bool
) -> None:
    result = is_available(
        LONDON,
        MORNING,
        [],
        bookings=[TALK_BOOKING],
        buffer=timedelta(minutes=buffer),
        start=start,
        end=end,
    )
    assert result is expected


def test_is_available_respects_time_off_and_merged_midnight() -> None:
    weekly = [*MORNING, WeeklyWindow(MON, 22 * 60, 1440), WeeklyWindow(TUE, 0, 120)]
    off = [DateOverride(JAN_MON, False, 9 * 60, 10 * 60)]
    common: dict[str, Any] = {"bookings": [], "buffer": timedelta(0)}
    late = (utc(2026, 1, 5, 23, 30), utc(2026, 1, 6, 0, 30))
    assert is_available(LONDON, weekly, off, start=late[0], end=late[1], **common) is True
    early = (utc(2026, 1, 5, 9, 15), utc(2026, 1, 5, 9, 45))
    assert is_available(LONDON, weekly, off, start=early[0], end=early[1], **common) is False


NAIVE = datetime(2026, 1, 5, 9)
AWARE = utc(2026, 1, 5, 9)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: WeeklyWindow(MON, 600, 600), "start_minute < end_minute"),
        (lambda: WeeklyWindow(MON, 600, 540), "start_minute < end_minute"),
        (lambda: WeeklyWindow(MON, -1, 60), "0 <= start_minute"),
        (lambda: WeeklyWindow(MON, 60, 1441), "<= 1440"),
        (lambda: WeeklyWindow(7, 60, 120), "weekday"),
        (lambda: WeeklyWindow(-1, 60, 120), "weekday"),
        (lambda: DateOverride(JAN_MON, False, 60, None), "both start_minute and end_minute"),
        (lambda: DateOverride(JAN_MON, True, None, 60), "both start_minute and end_minute"),
        (lambda: DateOverride(JAN_MON, False, 120, 60), "start_minute < end_minute"),
        (lambda: DateOverride(NAIVE, False), "not a datetime"),
        (lambda: Interval(NAIVE, AWARE + MINUTE), "timezone-aware"),
        (lambda: Interval(AWARE, AWARE), "end after"),
        (lambda: policy(session=0), "session must be positive"),
        (lambda: policy(step=-5), "step must be positive"),
        (lambda: policy(buffer=-1), "buffer must not be negative"),
        (lambda: policy(notice=-1), "min_notice must not be negative"),
        (lambda: available_intervals(LONDON, MORNING, [], NAIVE, AWARE), "timezone-aware"),
        (lambda: available_intervals(LONDON, MORNING, [], AWARE, AWARE - MINUTE), "ends before"),
        (lambda: slots(LONDON, MORNING, day=JAN_MON, now=NAIVE), "now must be timezone-aware"),
        (lambda: slots(LONDON, MORNING, day=JAN_MON, window=(AWARE, NAIVE)), "timezone-aware"),
        (
            lambda: slots(LONDON, MORNING, day=JAN_MON, window=(AWARE, AWARE - MINUTE)),
            "ends before",
        ),
        (
            lambda: is_available(
                LONDON, MORNING, [], bookings=[], buffer=timedelta(0), start=NAIVE, end=AWARE
            ),
            "timezone-aware",
        ),
        (
            lambda: is_available(
                LONDON, MORNING, [], bookings=[], buffer=timedelta(0), start=AWARE, end=AWARE
            ),
            "end after start",
        ),
        (
            lambda: is_available(
                LONDON, MORNING, [], bookings=[], buffer=-MINUTE, start=AWARE, end=AWARE + MINUTE
            ),
            "buffer must not be negative",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_non_utc_inputs_are_normalised_to_utc() -> None:
    local = datetime(2026, 6, 1, 9, tzinfo=LONDON)
    interval = Interval(local, local + timedelta(minutes=30))
    assert interval.start == utc(2026, 6, 1, 8) and interval.start.tzinfo is UTC
    assert interval.end - interval.start == timedelta(minutes=30)


def test_slots_are_real_elapsed_time_even_when_inputs_are_local() -> None:
    """Adding a timedelta to a local-zone datetime is wall-clock arithmetic; slots must not be."""
    now = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)
    found = free_slots(
        NEW_YORK,
        [WeeklyWindow(SUN, 0, 4 * 60)],
        [],
        bookings=[],
        blocked=[],
        policy=policy(session=180, step=60),
        now=now,
        window_start=now,
        window_end=now + timedelta(days=2),
    )
    assert found == [iv(utc(2026, 3, 8, 5), utc(2026, 3, 8, 8))]


def test_a_long_stretch_keeps_its_own_step_grid_when_queried_from_its_middle() -> None:
    """The grid is anchored at the stretch's start, not at the query window or midnight."""
    weekly = [WeeklyWindow(day, 0, 1440) for day in range(0, 4)] + [
        WeeklyWindow(SUN, 23 * 60 + 53, 1440)
    ]
    found = slots(LONDON, weekly, day=date(2026, 1, 7), rules=policy(session=30, step=7))
    # The stretch starts Sunday 23:53; 7-minute steps from there reach Wednesday 00:04 first
    # (anchoring at Tuesday's midnight would give 00:02 instead).
    assert found[0] == utc(2026, 1, 7, 0, 4)
    assert (found[0] - utc(2026, 1, 4, 23, 53)) % timedelta(minutes=7) == timedelta(0)


# ---------------------------------------------------------------------------------------------
# Properties against an independent brute force: every UTC minute is judged by its local
# wall-clock date and time, with no interval arithmetic and no code shared with the module.
# ---------------------------------------------------------------------------------------------

TRANSITIONS: dict[str, list[date]] = {
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/London": [date(2026, 3, 29), date(2026, 10, 25)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],
    "Pacific/Chatham": [date(2026, 4, 5), date(2026, 9, 27)],
    "Asia/Kolkata": [date(2026, 3, 8), date(2026, 10, 25)],
    "UTC": [date(2026, 3, 29), date(2026, 11, 1)],
}
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None)


@pytest.mark.parametrize("zone", [z for z in TRANSITIONS if z not in ("Asia/Kolkata", "UTC")])
def test_the_property_dates_really_are_dst_days(zone: str) -> None:
    tz = ZoneInfo(zone)
    for day in TRANSITIONS[zone]:
        before = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
        after = datetime.combine(day, time(23, 59), tzinfo=tz).utcoffset()
        assert before != after, (zone, day)


def override_range(o: DateOverride) -> tuple[int, int]:
    if o.start_minute is None or o.end_minute is None:
        return (0, 1440)  # a whole-day override
    return (o.start_minute, o.end_minute)


@dataclass
class Oracle:
    """Availability of one UTC minute, read off the rules for its local wall-clock date."""

    tz: ZoneInfo
    weekly: Sequence[WeeklyWindow]
    overrides: Sequence[DateOverride]
    days: dict[date, list[bool]] = field(default_factory=dict)

    def local_day(self, day: date) -> list[bool]:
        if day not in self.days:
            open_ = [False] * 1440
            for w in self.weekly:
                if w.weekday == day.weekday():
                    open_[w.start_minute : w.end_minute] = [True] * (w.end_minute - w.start_minute)
            for wanted in (True, False):  # extra hours first, so time off wins
                for o in self.overrides:
                    if o.on_date == day and o.available is wanted:
                        lo, hi = override_range(o)
                        open_[lo:hi] = [wanted] * (hi - lo)
            self.days[day] = open_
        return self.days[day]

    def minute(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return self.local_day(local.date())[local.hour * 60 + local.minute]

    def prefix(self, start: datetime, count: int) -> list[int]:
        """prefix[k] = how many of the first k minutes from start are available."""
        return [0, *accumulate(int(self.minute(start + k * MINUTE)) for k in range(count))]


def minutes_between(start: datetime, end: datetime) -> int:
    return (end - start) // MINUTE


def unambiguous(tz: ZoneInfo, day: date, minute: int) -> bool:
    """A wall-clock minute that happens exactly once, so a boundary has one reading."""
    moment = datetime.combine(day, time(), tzinfo=tz) + timedelta(minutes=minute)  # wall-clock add
    return moment.utcoffset() == moment.replace(fold=1).utcoffset()


@dataclass(frozen=True)
class Scenario:
    tz: ZoneInfo
    weekly: list[WeeklyWindow]
    overrides: list[DateOverride]
    start: datetime
    end: datetime

    def oracle(self) -> Oracle:
        return Oracle(self.tz, self.weekly, self.overrides)

    def boundaries_unambiguous(self) -> bool:
        """The wall-clock oracle and fold=0 instants agree unless a boundary is in a gap or fold."""
        first = self.start.astimezone(self.tz).date() - timedelta(days=3)
        for k in range(minutes_between(self.start, self.end) // 1440 + 7):
            day = first + timedelta(days=k)
            ranges = [
                (w.start_minute, w.end_minute) for w in self.weekly if w.weekday == day.weekday()
            ]
            ranges += [override_range(o) for o in self.overrides if o.on_date == day]
            if not all(unambiguous(self.tz, day, m) for pair in ranges for m in pair):
                return False
        return True


MINUTE_OF_DAY = st.one_of(st.integers(0, 96).map(lambda q: q * 15), st.integers(0, 1440))


@st.composite
def minute_ranges(draw: st.DrawFn) -> tuple[int, int]:
    a, b = draw(MINUTE_OF_DAY), draw(MINUTE_OF_DAY)
    if a == b:
        b = a - 15 if a == 1440 else min(a + 15, 1440)
    return (min(a, b), max(a, b))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone = draw(st.sampled_from(sorted(TRANSITIONS)))
    transition = draw(st.sampled_from(TRANSITIONS[zone]))
    first_day = transition + timedelta(days=draw(st.integers(-2, 0)))
    near = st.integers(-1, 3).map(lambda k: first_day + timedelta(days=k))
    weekday = st.one_of(st.just(transition.weekday()), near.map(date.weekday), st.integers(0, 6))
    weekly = [
        WeeklyWindow(draw(weekday), *draw(minute_ranges())) for _ in range(draw(st.integers(0, 6)))
    ]
    overrides = [
        DateOverride(draw(near), available, *(draw(minute_ranges()) if partial else (None, None)))
        for available, partial in draw(
            st.lists(st.tuples(st.booleans(), st.booleans()), max_size=4)
        )
    ]
    start = datetime.combine(first_day, time(), tzinfo=UTC) + draw(st.integers(-720, 720)) * MINUTE
    end = start + timedelta(days=draw(st.integers(1, 3))) + draw(st.integers(-720, 720)) * MINUTE
    return Scenario(ZoneInfo(zone), weekly, overrides, start, end)


@dataclass(frozen=True)
class SlotScenario:
    base: Scenario
    bookings: list[Interval]
    blocked: list[Interval]
    policy: SlotPolicy
    now: datetime
    window_start: datetime
    window_end: datetime
    talk: Interval

    def slots(self) -> list[Interval]:
        b = self.base
        return free_slots(
            b.tz,
            b.weekly,
            b.overrides,
            bookings=self.bookings,
            blocked=self.blocked,
            policy=self.policy,
            now=self.now,
            window_start=self.window_start,
            window_end=self.window_end,
        )

    def first_start(self) -> datetime:
        return max(self.window_start, self.now + self.policy.min_notice)

    def stop(self) -> datetime:
        return min(self.window_end, self.now + self.policy.horizon)

    def clashes(self, start: datetime, end: datetime, buffer: timedelta) -> bool:
        booked = any(b.start - buffer < end and start < b.end + buffer for b in self.bookings)
        return booked or any(b.start < end and start < b.end for b in self.blocked)


@st.composite
def slot_scenarios(draw: st.DrawFn) -> SlotScenario:
    base = draw(scenarios())
    span = minutes_between(base.start, base.end)

    def at(offset: int) -> datetime:
        return base.start + offset * MINUTE

    intervals = st.builds(
        lambda o, d: Interval(at(o), at(o + d)), st.integers(-120, span), st.integers(1, 120)
    )
    rules = SlotPolicy(
        session=draw(st.integers(15, 90)) * MINUTE,
        step=draw(st.integers(5, 60)) * MINUTE,
        buffer=draw(st.integers(0, 30)) * MINUTE,
        min_notice=draw(st.integers(0, 240)) * MINUTE,
        horizon=draw(st.one_of(st.just(10 * 1440), st.integers(0, 3 * 1440))) * MINUTE,
    )
    window_start = at(draw(st.integers(-240, span // 2)))
    window_length = draw(st.one_of(st.integers(0, span), st.just(span + 240)))
    talk_start = at(draw(st.integers(0, span)))
    return SlotScenario(
        base,
        draw(st.lists(intervals, max_size=6)),
        draw(st.lists(intervals, max_size=2)),
        rules,
        now=at(draw(st.integers(-1440, span // 4))),
        window_start=window_start,
        window_end=window_start + window_length * MINUTE,
        talk=Interval(talk_start, talk_start + draw(st.integers(1, 180)) * MINUTE),
    )


def first_mismatch(got: list[bool], expected: list[bool]) -> int | None:
    return next((k for k, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e), None)


@PROPERTY_SETTINGS
@given(scenarios())
def test_available_intervals_agree_with_the_oracle_minute_by_minute(s: Scenario) -> None:
    assume(s.boundaries_unambiguous())
    found = available_intervals(s.tz, s.weekly, s.overrides, s.start, s.end)
    for earlier, later in pairwise(found):
        assert earlier.end < later.start, "intervals must be sorted and merged"
    total = minutes_between(s.start, s.end)
    got = [False] * total
    for interval in found:
        assert s.start <= interval.start < interval.end <= s.end
        lo, hi = minutes_between(s.start, interval.start), minutes_between(s.start, interval.end)
        assert (interval.start, interval.end) == (s.start + lo * MINUTE, s.start + hi * MINUTE)
        got[lo:hi] = [True] * (hi - lo)
    oracle = s.oracle()
    expected = [oracle.minute(s.start + k * MINUTE) for k in range(total)]
    k = first_mismatch(got, expected)
    assert k is None, f"{s.start + k * MINUTE}: module says {got[k]}, oracle says {expected[k]}"


@PROPERTY_SETTINGS
@given(slot_scenarios())
def test_free_slots_are_sound_even_with_gap_and_fold_boundaries(c: SlotScenario) -> None:
    found = c.slots()
    starts = [slot.start for slot in found]
    assert starts == sorted(set(starts))
    b, first, stop = c.base, c.first_start(), c.stop()
    reach = available_intervals(
        b.tz, b.weekly, b.overrides, min(first, stop), stop + c.policy.session
    )
    for slot in found:
        assert slot.end - slot.start == c.policy.session  # (1) real elapsed time
        assert slot.start >= c.now + c.policy.min_notice  # (4)
        assert slot.start < c.now + c.policy.horizon
        assert c.window_start <= slot.start < c.window_end
        assert not c.clashes(slot.start, slot.end, c.policy.buffer)  # (3)
        assert any(a.start <= slot.start and slot.end <= a.end for a in reach)


@PROPERTY_SETTINGS
@given(slot_scenarios())
def test_free_slots_are_exactly_the_grid_starts_the_oracle_accepts(c: SlotScenario) -> None:
    assume(c.base.boundaries_unambiguous())
    found = c.slots()
    b, first, stop, session = c.base, c.first_start(), c.stop(), c.policy.session
    if first >= stop:
        assert found == []
        return
    lookback = first - timedelta(days=7)
    anchors = available_intervals(b.tz, b.weekly, b.overrides, lookback, stop + session)
    assume(not anchors or anchors[0].start > lookback or anchors[0].end <= first)
    prefix = b.oracle().prefix(first, minutes_between(first, stop + session))

    def fully_open(start: datetime) -> bool:  # (2) every minute of the slot, by the oracle
        k = minutes_between(first, start)
        return prefix[k + session // MINUTE] - prefix[k] == session // MINUTE

    expected: list[datetime] = []
    for anchor in anchors:
        moment = anchor.start
        while moment < min(stop, anchor.end):
            if (
                moment >= first
                and fully_open(moment)
                and not c.clashes(moment, moment + session, c.policy.buffer)
            ):
                expected.append(moment)
            moment += c.policy.step
    got = [slot.start for slot in found]
    assert all(fully_open(start) for start in got)
    assert got == expected  # (5) complete, and nothing off the grid


@PROPERTY_SETTINGS
@given(slot_scenarios())
def test_is_available_agrees_with_the_oracle(c: SlotScenario) -> None:
    b = c.base
    assume(b.boundaries_unambiguous())
    talk = c.talk
    oracle = b.oracle()
    length = minutes_between(talk.start, talk.end)
    expected = all(oracle.minute(talk.start + k * MINUTE) for k in range(length))
    expected = expected and not any(
        x.start - c.policy.buffer < talk.end and talk.start < x.end + c.policy.buffer
        for x in c.bookings
    )
    result = is_available(
        b.tz,
        b.weekly,
        b.overrides,
        bookings=c.bookings,
        buffer=c.policy.buffer,
        start=talk.start,
        end=talk.end,
    )
    assert result is expected
