"""Shared field types: every request body forbids unknown fields and coerces nothing."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)


class Body(BaseModel):
    """Base of request bodies: strict types, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _whole_numbers(cls, value: object, info: ValidationInfo) -> object:
        """JSON's 17.0 is the integer 17 (so says JSON Schema); strict int would refuse it."""
        field = cls.model_fields.get(info.field_name or "")
        if info.mode == "json" and field is not None and _takes_int(field.annotation):
            return _as_ints(value)
        return value


def _takes_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return any(_takes_int(arg) for arg in get_args(annotation))


def _as_ints(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return [_as_ints(v) for v in value] if isinstance(value, list) else value


def without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A property's JSON schema minus its null branch (and its null default)."""
    if "anyOf" in prop:
        kept = [branch for branch in prop.pop("anyOf") if branch != {"type": "null"}]
        prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
    if "default" in prop and prop["default"] is None:
        del prop["default"]
    return prop


def _null_where_clearable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The document offers null only where a patch may clear a value with it."""
    clearable: frozenset[str] = getattr(model, "clearable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name not in clearable:
            without_null(prop)


class Patch(Body):
    """Base of PATCH bodies: a field left out keeps its value; null clears `clearable` ones."""

    clearable: ClassVar[frozenset[str]] = frozenset()
    model_config = ConfigDict(json_schema_extra=_null_where_clearable)

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_clearable(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


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


_CLOCK = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")  # ASCII digits only


def _clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):  # not .match: its $ would let a final newline by
        raise ValueError("use 24-hour HH:MM (00:00 to 24:00)")
    return value


def clock_to_minute(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def minute_to_clock(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def _iso_text(pattern: str, example: str) -> BeforeValidator:
    shape = re.compile(pattern)

    def check(value: object) -> object:
        """Pydantic also reads '1700000000' as Unix time; the document promises ISO 8601 text."""
        if isinstance(value, date) or (isinstance(value, str) and shape.match(value)):
            return value
        raise ValueError(f"use ISO 8601 text like {example}")

    return BeforeValidator(check)


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
CLOCK_SCHEMA = {"type": "string", "pattern": _CLOCK.pattern, "minLength": 5, "maxLength": 5}
ClockTime = Annotated[str, AfterValidator(_clock), WithJsonSchema(CLOCK_SCHEMA)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
LanguageCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", max_length=16)
]
Locale = LanguageCode
_DAY = "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Lax inside, so strict bodies still take text; the check lets in ISO 8601 text only.
Timestamp = Annotated[
    AwareDatetime, Strict(False), _iso_text(_DAY + "[Tt ]", "2026-03-04T09:00:00Z")
]
CalendarDate = Annotated[date, Strict(False), _iso_text(_DAY + "$", "2026-03-04")]
Mode = Annotated[str, StringConstraints(pattern=r"^(text|video|in_person)$")]
Platform = Annotated[str, StringConstraints(pattern=r"^(slack|teams|email|lms|lti|web)$")]
EMAIL_PATTERN = r"^[^@\s<>\",;:()\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=EMAIL_PATTERN, max_length=254)
]
