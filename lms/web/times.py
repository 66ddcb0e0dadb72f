"""Free times for a student's choices, a page at a time, grouped by day in the zone they read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from core.services import slots
from core.services.access import Ctx

MAX_TIMES = 24  # a phone screen or two of choices; "Later times" shows more
SEARCH_STEP = timedelta(days=7)
REGIONS = frozenset(
    ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe")
) | {"Indian", "Pacific"}
TWELVE_HOUR_LOCALES = ("en-us", "en-ca", "en-au", "en-ph")


@dataclass(frozen=True)
class Choice:
    """What the student asked for: the core matches supporters on these three."""

    topic: str
    mode: str
    language: str


@dataclass(frozen=True)
class FreeTime:
    value: str  # "supporter id|start in UTC", as the form sends it back
    label: str  # "08:00 to 08:45 with Ash"


@dataclass(frozen=True)
class Day:
    label: str  # "Wednesday 4 March"
    times: list[FreeTime]


@dataclass(frozen=True)
class TimesPage:
    days: list[Day]
    later: str | None  # where the next page starts (ISO), if there is one


@cache
def zone_names() -> tuple[str, ...]:
    """The zones the select offers: places (Region/City) and UTC, sorted."""
    places = (z for z in available_timezones() if z.split("/")[0] in REGIONS)
    return ("UTC", *sorted(places))


def zone_named(name: str | None, fallback: str) -> ZoneInfo:
    """The zone asked for when it is a real IANA name, else the program's."""
    if name and (name in zone_names() or name in available_timezones()):
        return ZoneInfo(name)
    return ZoneInfo(fallback)


def zone_options(current: str) -> list[tuple[str, str]]:
    """(value, label) for the select; a valid zone outside the list (an alias) is added."""
    names = zone_names() if current in zone_names() else (current, *zone_names())
    return [(name, name.replace("_", " ")) for name in names]


def clock(moment: datetime, locale: str | None) -> str:
    """24-hour time, or 12-hour where people read it that way."""
    if (locale or "").lower() in TWELVE_HOUR_LOCALES:
        return f"{moment.hour % 12 or 12}:{moment:%M} {'am' if moment.hour < 12 else 'pm'}"
    return f"{moment:%H:%M}"


def day_label(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B}"


def moment(at: datetime, zone: ZoneInfo, locale: str | None) -> str:
    """'Wednesday 4 March, 06:00' in the reader's zone."""
    local = at.astimezone(zone)
    return f"{day_label(local)}, {clock(local, locale)}"


def when(starts_at: datetime, ends_at: datetime, zone: ZoneInfo, locale: str | None) -> str:
    """'Wednesday 4 March, 08:00 to 08:45' in the reader's zone."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    return f"{day_label(start)}, {clock(start, locale)} to {clock(end, locale)}"


def slot_value(supporter_id: uuid.UUID, starts_at: datetime) -> str:
    return f"{supporter_id}|{starts_at.astimezone(ZoneInfo('UTC')).isoformat()}"


def parse_slot(value: Any) -> tuple[uuid.UUID, datetime] | None:
    """A value from the list back to (supporter, start); anything else is nothing chosen."""
    supporter, _, start = str(value or "")[:120].partition("|")
    try:
        moment = datetime.fromisoformat(start)
        return (uuid.UUID(supporter), moment) if moment.tzinfo is not None else None
    except ValueError:
        return None


def start_of(after: str | None, day: str | None, zone: ZoneInfo, now: datetime) -> datetime:
    """Where a page starts: a 'Later times' moment, the start of a chosen day, or now."""
    moment = now
    try:
        if after:
            moment = datetime.fromisoformat(after[:40])
        elif day:
            moment = datetime.combine(date.fromisoformat(day[:10]), time(0), tzinfo=zone)
    except ValueError:
        return now
    return max(moment, now) if moment.tzinfo is not None else now


def free_times(
    ctx: Ctx,
    program: Any,
    choice: Choice,
    zone: ZoneInfo,
    locale: str | None,
    start: datetime,
    *,
    moving: tuple[uuid.UUID, uuid.UUID, datetime] | None = None,
) -> TimesPage:
    """The first MAX_TIMES free times from `start`, a week at a time up to the horizon.

    `moving` is (booking, supporter, start) of a booking being moved: its own time is freed
    for the search (the core frees it atomically on the move) but not offered again.
    """
    horizon = ctx.now + timedelta(days=program.horizon_days)
    found: list[slots.FoundSlot] = []
    while start < horizon and len(found) <= MAX_TIMES:
        end = min(start + SEARCH_STEP, horizon)
        wanted = slots.SlotFilter(
            start=start,
            end=end,
            topic=choice.topic,
            language=choice.language,
            mode=choice.mode,
            ignore_booking=moving[0] if moving else None,
        )
        found += [
            f
            for f in slots.search(ctx, program, wanted)
            if moving is None or (f.supporter.id, f.interval.start) != moving[1:]
        ]
        start = end
    later = found[MAX_TIMES].interval.start.isoformat() if len(found) > MAX_TIMES else None
    return TimesPage(_by_day(found[:MAX_TIMES], zone, locale), later)


def _by_day(found: list[slots.FoundSlot], zone: ZoneInfo, locale: str | None) -> list[Day]:
    def local_day(f: slots.FoundSlot) -> date:
        return f.interval.start.astimezone(zone).date()

    days = []
    for _day, group in groupby(found, key=local_day):
        listed = list(group)
        times = [
            FreeTime(
                slot_value(f.supporter.id, f.interval.start),
                f"{clock(f.interval.start.astimezone(zone), locale)} to "
                f"{clock(f.interval.end.astimezone(zone), locale)} with {f.supporter.alias}",
            )
            for f in listed
        ]
        days.append(Day(day_label(listed[0].interval.start.astimezone(zone)), times))
    return days


def offers(ctx: Ctx, program: Any, choice: Choice, supporter_id: uuid.UUID) -> bool:
    """Whether that supporter is one the student could be offered at all (topic, language,
    mode, active, trained); whether the time is free is the core's to say when booking."""
    wanted = slots.SlotFilter(
        start=ctx.now,
        end=ctx.now,
        topic=choice.topic,
        language=choice.language,
        mode=choice.mode,
        supporter_id=supporter_id,
    )
    return any(s.id == supporter_id for s in slots.candidates(ctx, program, wanted))
