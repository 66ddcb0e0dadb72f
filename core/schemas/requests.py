"""Anonymous support requests, offers to supporters, bookings and feedback."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from core.schemas.common import (
    Body,
    EmailAddress,
    LanguageCode,
    Locale,
    Mode,
    Out,
    Platform,
    Query,
    Tag,
    Timestamp,
)
from core.schemas.programs import CrisisResourceOut
from core.schemas.supporters import SupporterPublic

MAX_NOTE_CHARS = 2000
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE_CHARS)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class RequesterIdentityIn(Body):
    """Who asked, as the platform knows them: from service tokens only; stored encrypted."""

    platform: Platform
    subject: Subject


class SlotChoice(Body):
    supporter_id: uuid.UUID
    starts_at: Timestamp


class RequestIn(Body):
    program: str = Field(max_length=64)
    topic: Tag
    urgency: Literal["now", "scheduled"]
    mode: Mode
    language: LanguageCode
    locale: Locale | None = Field(None, description="Picks crisis resources; default the program's")
    note: Note | None = Field(None, description="Only the assigned supporter reads it")
    avoid_supporters: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    slot: SlotChoice | None = Field(
        None, description="For urgency=scheduled: book this slot at once"
    )
    requester: RequesterIdentityIn | None = None
    email: EmailAddress | None = Field(
        None,
        description="Where to send confirmations and calendar invites; stored encrypted and "
        "deleted with the request's identity after the retention window",
    )
    channel: Literal["api", "web", "slack", "teams", "lms", "email"] = "api"


class Crisis(Out):
    detected: bool
    resources: list[CrisisResourceOut]


class BookingBrief(Out):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    mode: str
    status: str
    supporter: SupporterPublic
    calendar_uid: str
    sequence: int


class NextSlot(Out):
    starts_at: datetime
    ends_at: datetime
    supporter: SupporterPublic


class RequestView(Out):
    """The requester's own view of their request."""

    id: uuid.UUID
    alias: str
    status: str
    outcome: str | None
    urgency: str
    is_urgent: bool
    topic: str
    mode: str
    language: str
    created_at: datetime
    supporter: SupporterPublic | None
    booking: BookingBrief | None
    feedback_given: bool
    waiting: str | None = Field(None, description="offered | waiting | none_available while open")
    next_slot: NextSlot | None = Field(
        None, description="When nobody is free to talk now: the earliest time to book instead"
    )
    notice: str
    crisis: Crisis


class RequestCreatedOut(RequestView):
    token: str = Field(description="Secret: shown once; keep it to read, cancel or give feedback")


class AssignedRequest(Out):
    """What the assigned supporter sees: the alias, never the identity."""

    id: uuid.UUID
    alias: str
    status: str
    urgency: str
    is_urgent: bool
    topic: str
    mode: str
    language: str
    note: str | None
    booking: BookingBrief | None


class FeedbackIn(Body):
    rating: int = Field(ge=1, le=5)
    comment: Note | None = None


class CancelIn(Body):
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class CloseIn(Body):
    outcome: Literal["completed", "cancelled"] = "completed"


class OfferQuery(Query):
    status: Literal["pending", "accepted", "declined", "expired", "taken", "withdrawn"] | None = (
        None
    )
    supporter: uuid.UUID | None = None
    program: str | None = None


class OfferRequest(Out):
    alias: str
    topic: str
    language: str
    mode: str
    urgency: str
    is_urgent: bool


class OfferOut(Out):
    id: uuid.UUID
    status: str
    created_at: datetime
    expires_at: datetime
    request_id: uuid.UUID
    request: OfferRequest


class BookingIn(Body):
    request_id: uuid.UUID
    supporter_id: uuid.UUID
    starts_at: Timestamp


class RescheduleIn(Body):
    starts_at: Timestamp
    supporter_id: uuid.UUID | None = Field(None, description="Default: the same supporter")


class BookingQuery(Query):
    program: str | None = None
    supporter: uuid.UUID | None = None
    start: Timestamp | None = Field(None, alias="from")
    end: Timestamp | None = Field(None, alias="to")
    status: Literal["confirmed", "cancelled", "completed"] | None = None


class BookingOut(BookingBrief):
    request_alias: str | None = Field(
        None, description="Shown to the supporter and the requester only"
    )
