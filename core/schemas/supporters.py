"""Supporters, their contact points, trainings and availability."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from core.schemas.common import (
    EMAIL_PATTERN,
    Body,
    CalendarDate,
    ClockTime,
    LanguageCode,
    Mode,
    Name,
    Out,
    Patch,
    Platform,
    Query,
    Tag,
    TimeZoneName,
    clock_to_minute,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
EARLIEST_DATE, LATEST_DATE = date(1950, 1, 1), date(2199, 12, 31)
Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class Contact(Body):
    platform: Platform
    address: Address

    @model_validator(mode="after")
    def _email_is_an_address(self) -> Contact:
        if self.platform == "email" and not re.match(EMAIL_PATTERN, self.address):
            raise ValueError("an email contact needs an e-mail address, like name@example.org")
        return self


class SupporterIn(Body):
    alias: Alias = Field(description="The name requesters see; not the supporter's real name")
    external_ref: Ref | None = Field(None, description="Your HR or student id, for CSV re-imports")
    time_zone: TimeZoneName
    languages: list[LanguageCode] = Field(min_length=1, max_length=20)
    topics: list[Tag] = Field(min_length=1, max_length=50)
    modes: list[Mode] = Field(default_factory=lambda: ["text", "video"], min_length=1)
    weekly_cap: int | None = Field(None, ge=1, le=100)
    concurrent_cap: int | None = Field(None, ge=1, le=20)
    contacts: list[Contact] = Field(default_factory=list, max_length=10)


class SupporterPatch(Patch):
    clearable = frozenset({"external_ref", "weekly_cap", "concurrent_cap", "contacts"})

    alias: Alias | None = None
    external_ref: Ref | None = None
    time_zone: TimeZoneName | None = None
    languages: list[LanguageCode] | None = Field(None, min_length=1, max_length=20)
    topics: list[Tag] | None = Field(None, min_length=1, max_length=50)
    modes: list[Mode] | None = Field(None, min_length=1)
    weekly_cap: int | None = Field(None, ge=1, le=100)
    concurrent_cap: int | None = Field(None, ge=1, le=20)
    contacts: list[Contact] | None = Field(None, max_length=10)


class SupporterQuery(Query):
    program: str | None = None
    status: Literal["active", "paused", "offboarded"] | None = None
    topic: str | None = None
    language: str | None = None


class TrainingIn(Body):
    name: Name
    completed_on: CalendarDate
    expires_on: CalendarDate | None = None

    @field_validator("completed_on", "expires_on")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise ValueError(f"must lie between {EARLIEST_DATE} and {LATEST_DATE}")
        return value

    @field_validator("expires_on")
    @classmethod
    def _expiry_after_completion(cls, value: date | None, info: ValidationInfo) -> date | None:
        completed = info.data.get("completed_on")
        if value is not None and completed is not None and value <= completed:
            raise ValueError("must be after completed_on")
        return value


class TrainingOut(Out):
    id: uuid.UUID
    name: str
    completed_on: date
    expires_on: date | None


class WeeklyWindowIn(Body):
    weekday: Weekday
    start: ClockTime
    end: ClockTime

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and clock_to_minute(end) <= clock_to_minute(start):
            raise ValueError("must be after start (use 24:00 for midnight)")
        return end


class AvailabilityIn(Body):
    weekly: list[WeeklyWindowIn] = Field(max_length=100)


class AvailabilityOut(Out):
    time_zone: str
    weekly: list[WeeklyWindowIn]


class OverrideIn(Body):
    date: CalendarDate
    available: bool = Field(description="true = extra hours, false = time off")
    start: ClockTime | None = None
    end: ClockTime | None = Field(None, validate_default=True)

    @field_validator("end")
    @classmethod
    def _window(cls, end: str | None, info: ValidationInfo) -> str | None:
        if "start" not in info.data:
            return end  # start was invalid; that error is reported already
        start = info.data["start"]
        if (start is None) != (end is None):
            raise ValueError("give both start and end, or neither (whole day off)")
        if start is None and info.data.get("available"):
            raise ValueError("extra hours need a start and an end")
        if start and end and clock_to_minute(end) <= clock_to_minute(start):
            raise ValueError("must be after start")
        return end


class OverrideOut(Out):
    id: uuid.UUID
    date: date
    available: bool
    start: str | None
    end: str | None


class SupporterOut(Out):
    id: uuid.UUID
    alias: str
    external_ref: str | None
    time_zone: str
    languages: list[str]
    topics: list[str]
    modes: list[str]
    status: str
    weekly_cap: int | None
    concurrent_cap: int | None
    contacts: list[Contact]
    trainings: list[TrainingOut]
    matchable: bool
    unmatchable_reasons: list[str]
    trained_until: date | None
    paused_until: date | None = None


class SupporterPublic(Out):
    """What a requester sees of a supporter."""

    id: uuid.UUID
    alias: str
    languages: list[str]
