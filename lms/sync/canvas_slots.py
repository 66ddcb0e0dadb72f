"""Which time slots a supporter's Canvas appointment group should hold: pure decisions.

A group holds one supporter's week (Monday to Monday in the program's time zone). Slots
already published stay while they are still free, reserved or past, so republishing is
stable; free times are added only where they overlap no kept slot (buffer included), so
any two reservations in a group can both become bookings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Reservation:
    """A student's reservation of a slot (a Canvas child event)."""

    id: str
    user_id: str


@dataclass(frozen=True)
class Slot:
    """A time slot of an appointment group, with its reservations."""

    id: str
    start: datetime
    end: datetime
    reservations: tuple[Reservation, ...]


@dataclass(frozen=True)
class Changes:
    add: list[Span]
    drop: list[Slot]


def week_of(moment: datetime, zone: ZoneInfo) -> Span:
    """The program-time week (Monday 00:00 to Monday 00:00) holding a moment, in UTC."""
    local = moment.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    return _midnight(monday, zone), _midnight(monday + timedelta(days=7), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def title(alias: str, week_start: datetime, zone: ZoneInfo) -> str:
    """Neutral, and unique per supporter and week, so a group whose creation was lost is found."""
    monday = week_start.astimezone(zone)
    return f"Peer chat with {alias} (week of {monday.day} {monday:%B %Y})"


def parse_group(document: dict[str, Any]) -> list[Slot]:
    """The slots of a group answer; reservations deleted in Canvas are left out."""
    slots = []
    for item in document.get("appointments") or []:
        if not isinstance(item, dict) or item.get("workflow_state") == "deleted":
            continue
        reservations = tuple(
            Reservation(str(child["id"]), str((child.get("user") or {}).get("id", "")))
            for child in item.get("child_events") or []
            if isinstance(child, dict)
            and child.get("id") is not None
            and child.get("workflow_state") != "deleted"
        )
        slots.append(
            Slot(str(item["id"]), _time(item["start_at"]), _time(item["end_at"]), reservations)
        )
    return slots


def changes(
    slots: Iterable[Slot], free: Iterable[Span], buffer: timedelta, now: datetime
) -> Changes:
    """Slots to add and to delete so the group offers the free times, without overlaps."""
    wanted = set(free)
    kept, drop = [], []
    for slot in slots:
        if slot.reservations or slot.start <= now or (slot.start, slot.end) in wanted:
            kept.append((slot.start, slot.end))
        else:
            drop.append(slot)
    add: list[Span] = []
    for span in sorted(wanted - set(kept)):
        if not any(_clash(span, other, buffer) for other in kept + add):
            add.append(span)
    return Changes(add, drop)


def new_appointments(spans: Iterable[Span]) -> list[tuple[str, str]]:
    """Canvas's form encoding: appointment_group[new_appointments][i][] = start, end."""
    fields = []
    for index, (start, end) in enumerate(spans):
        key = f"appointment_group[new_appointments][{index}][]"
        fields += [(key, canvas_time(start)), (key, canvas_time(end))]
    return fields


def canvas_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clash(one: Span, other: Span, buffer: timedelta) -> bool:
    return one[0] < other[1] + buffer and other[0] < one[1] + buffer


def _time(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
