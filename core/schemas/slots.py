"""Searching free slots across a program."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, ValidationInfo, field_validator

from core.schemas.common import LanguageCode, Mode, Out, Query, Timestamp, TimeZoneName
from core.schemas.supporters import SupporterPublic


class SlotQuery(Query):
    program: str = Field(description="Program slug")
    start: Timestamp | None = Field(None, alias="from", description="Default: now")
    end: Timestamp | None = Field(None, alias="to", description="Default: 7 days after from")
    topic: str | None = Field(None, max_length=40)
    language: LanguageCode | None = None
    mode: Mode | None = None
    supporter: uuid.UUID | None = None
    tz: TimeZoneName | None = Field(None, description="Viewer's time zone; default the program's")

    @field_validator("end")
    @classmethod
    def _range(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if start and end and end <= start:
            raise ValueError("must be after 'from'")
        return end


class Slot(Out):
    starts_at: datetime
    ends_at: datetime
    supporter: SupporterPublic


class SlotList(Out):
    time_zone: str
    slots: list[Slot]
