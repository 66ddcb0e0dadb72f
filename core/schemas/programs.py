"""Program (tenant) settings and the public intake view."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, StringConstraints

from core.schemas.common import (
    Body,
    EmailAddress,
    LanguageCode,
    Locale,
    Mode,
    Name,
    Out,
    Patch,
    Tag,
    TimeZoneName,
)

NOT_A_CRISIS_SERVICE = (
    "PeerLine connects you with a trained peer supporter. It is not a crisis or emergency "
    "service. If you are in danger or thinking about harming yourself, contact one of the "
    "crisis resources below or your local emergency number now."
)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]


class CrisisResource(Body):
    locale: Locale = Field(description="Shown to people whose locale starts with this, e.g. en-GB")
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    contact: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=300)] = ""
    url: HttpUrl | None = None


ReminderMinutes = Annotated[int, Field(ge=5, le=10080)]
ReminderDays = Annotated[int, Field(ge=1, le=365)]


class Policy(Body):
    session_minutes: int = Field(45, ge=10, le=240)
    buffer_minutes: int = Field(15, ge=0, le=120)
    slot_step_minutes: int = Field(15, ge=5, le=120)
    min_notice_minutes: int = Field(240, ge=0, le=10080)
    horizon_days: int = Field(28, ge=1, le=180)
    offer_timeout_minutes: int = Field(10, ge=1, le=1440)
    offer_batch_size: int = Field(3, ge=1, le=10)
    now_wait_minutes: int = Field(60, ge=5, le=1440)
    weekly_cap: int = Field(5, ge=1, le=100)
    concurrent_cap: int = Field(2, ge=1, le=20)
    retention_days: int = Field(30, ge=0, le=365)
    min_report_group: int = Field(5, ge=5, le=1000, description="Never below 5")
    required_trainings: list[Name] = Field(default_factory=list, max_length=20)
    reminder_minutes: list[ReminderMinutes] = Field(
        default_factory=lambda: [1440, 15],
        max_length=4,
        description="Reminders to both sides this many minutes before a session",
    )
    training_reminder_days: list[ReminderDays] = Field(
        default_factory=lambda: [90, 30],
        max_length=4,
        description="Notices to supporter and coordinators this many days before a training lapses",
    )
    notify_email: EmailAddress | None = Field(
        None, description="Coordinators' mailbox for training-expiry notices"
    )
    change_cutoff_minutes: int = Field(
        120,
        ge=0,
        le=10080,
        description="Requesters may cancel or move a booking until this many minutes before it",
    )


class PolicyPatch(Patch):
    clearable = frozenset({"notify_email"})

    session_minutes: int | None = Field(None, ge=10, le=240)
    buffer_minutes: int | None = Field(None, ge=0, le=120)
    slot_step_minutes: int | None = Field(None, ge=5, le=120)
    min_notice_minutes: int | None = Field(None, ge=0, le=10080)
    horizon_days: int | None = Field(None, ge=1, le=180)
    offer_timeout_minutes: int | None = Field(None, ge=1, le=1440)
    offer_batch_size: int | None = Field(None, ge=1, le=10)
    now_wait_minutes: int | None = Field(None, ge=5, le=1440)
    weekly_cap: int | None = Field(None, ge=1, le=100)
    concurrent_cap: int | None = Field(None, ge=1, le=20)
    retention_days: int | None = Field(None, ge=0, le=365)
    min_report_group: int | None = Field(None, ge=5, le=1000)
    required_trainings: list[Name] | None = Field(None, max_length=20)
    reminder_minutes: list[ReminderMinutes] | None = Field(None, max_length=4)
    training_reminder_days: list[ReminderDays] | None = Field(None, max_length=4)
    notify_email: EmailAddress | None = None
    change_cutoff_minutes: int | None = Field(None, ge=0, le=10080)


class ProgramIn(Body):
    slug: Slug
    name: Name
    kind: Literal["workplace", "school"]
    time_zone: TimeZoneName
    locale: Locale = "en"
    policy: Policy = Field(default_factory=Policy)
    topics: list[Tag] = Field(default_factory=lambda: ["general"], min_length=1, max_length=50)
    languages: list[LanguageCode] = Field(
        default_factory=lambda: ["en"], min_length=1, max_length=30
    )
    modes: list[Mode] = Field(default_factory=lambda: ["text", "video"], min_length=1)
    crisis_resources: list[CrisisResource] = Field(default_factory=list, max_length=30)
    crisis_phrases: dict[Locale, list[Phrase]] = Field(default_factory=dict)


class ProgramPatch(Patch):
    clearable = frozenset({"policy"})  # null policy: no change

    name: Name | None = None
    time_zone: TimeZoneName | None = None
    locale: Locale | None = None
    policy: PolicyPatch | None = None
    topics: list[Tag] | None = Field(None, min_length=1, max_length=50)
    languages: list[LanguageCode] | None = Field(None, min_length=1, max_length=30)
    modes: list[Mode] | None = Field(None, min_length=1)
    crisis_resources: list[CrisisResource] | None = Field(None, max_length=30)
    crisis_phrases: dict[Locale, list[Phrase]] | None = None


class CrisisResourceOut(Out):
    locale: str
    name: str
    contact: str
    description: str = ""
    url: str | None = None


class ProgramOut(Out):
    id: uuid.UUID
    slug: str
    name: str
    kind: str
    time_zone: str
    locale: str
    policy: Policy
    topics: list[str]
    languages: list[str]
    modes: list[str]
    crisis_resources: list[CrisisResourceOut]
    crisis_phrases: dict[str, list[str]]


class IntakeOut(Out):
    """What anyone may see before asking for a chat: choices, notice, crisis resources."""

    slug: str
    name: str
    locale: str
    time_zone: str
    topics: list[str]
    languages: list[str]
    modes: list[str]
    session_minutes: int
    notice: str = NOT_A_CRISIS_SERVICE
    crisis_resources: list[CrisisResourceOut]
