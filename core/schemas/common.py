"""Shared field types: every request body forbids unknown fields and coerces nothing."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


class Body(BaseModel):
    """Base of request bodies: strict types, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Base of query strings: values arrive as text, unknown parameters rejected."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Base of responses."""

    model_config = ConfigDict(from_attributes=True)


NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})  # tzdata files, not places


def _zone(name: str) -> str:
    if name not in _zone_names() or name in NOT_ZONES:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/London)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError("use 24-hour HH:MM (00:00 to 24:00)")
    return value


def clock_to_minute(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def minute_to_clock(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
ClockTime = Annotated[str, AfterValidator(_clock)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
LanguageCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", max_length=16)
]
Locale = LanguageCode
Timestamp = AwareDatetime
Mode = Annotated[str, StringConstraints(pattern=r"^(text|video|in_person)$")]
Platform = Annotated[str, StringConstraints(pattern=r"^(slack|teams|email|lms|lti|web)$")]
EMAIL_PATTERN = r"^[^@\s<>\",;:()\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=EMAIL_PATTERN, max_length=254)
]
