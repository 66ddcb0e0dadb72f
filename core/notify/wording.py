"""What every channel says alike: mode names, snapshot times, zones, counted units."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MODES = {"text": "text chat", "video": "video call", "in_person": "meeting in person"}


def mode_name(value: object) -> str:
    return MODES.get(str(value), "peer chat")


def instant(value: str) -> datetime:
    """An ISO 8601 time from the snapshot; a naive one (SQLite) is UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def zone_of(data: dict[str, Any]) -> ZoneInfo:
    """The reader's zone; an unknown name falls back to UTC rather than failing the message."""
    try:
        return ZoneInfo(str(data.get("time_zone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def count(number: int, unit: str) -> str:
    return f"{number} {unit}" + ("" if number == 1 else "s")


def duration(minutes: int) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        return count(minutes // 60, "hour")
    return count(minutes, "minute")
