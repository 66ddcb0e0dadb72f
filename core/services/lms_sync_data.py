"""What the LMS calendar sync needs from the core beyond the other services, in one place.

Plugins may not read the core's tables, so the sync asks here for a booking's facts (in the
transaction of a domain event), for the booking a slot became, for the caller behind an
API token on its own admin pages, and to book a student's named Canvas reservation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Forbidden
from core.models import Booking
from core.schemas.requests import RequesterIdentityIn, RequestIn
from core.services import requests
from core.services.access import Ctx


@dataclass(frozen=True)
class BookingFacts:
    """A booking's ids, times and state: nothing about the request or who made it."""

    id: uuid.UUID
    program_id: uuid.UUID
    supporter_id: uuid.UUID
    request_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    sequence: int
    uid: str


@dataclass(frozen=True)
class NamedSlot:
    """A slot a student reserved in their LMS under their own name, and what the chat is."""

    program: str  # the program's slug
    supporter_id: uuid.UUID
    starts_at: datetime
    topic: str
    mode: str
    language: str


def booking_facts(session: Session, booking_id: uuid.UUID) -> BookingFacts | None:
    booking = session.get(Booking, booking_id)
    if booking is None:
        return None
    return BookingFacts(
        id=booking.id,
        program_id=booking.program_id,
        supporter_id=booking.supporter_id,
        request_id=booking.request_id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        status=booking.status,
        sequence=booking.sequence,
        uid=booking.calendar_uid,
    )


def booking_at(session: Session, supporter_id: uuid.UUID, starts_at: datetime) -> uuid.UUID | None:
    """The supporter's confirmed booking starting then (at most one: no double booking)."""
    return session.scalar(
        select(Booking.id).where(
            Booking.supporter_id == supporter_id,
            Booking.starts_at == starts_at,
            Booking.status == "confirmed",
        )
    )


def book_named(ctx: Ctx, slot: NamedSlot, *, platform: str, subject: str) -> uuid.UUID:
    """A scheduled request for the slot, by the student as `platform` knows them; its booking.

    Committed like any request (identity encrypted, events routed); a slot no longer free
    raises the core's SlotUnavailable and stores nothing. The platform (e.g. `canvas`) is
    an in-process integration's own, outside the list the HTTP API accepts from tokens.
    """
    if ctx.principal.role != "system":
        raise Forbidden("only the calendar sync books a named reservation")
    data = RequestIn.model_validate(
        {
            "program": slot.program,
            "topic": slot.topic,
            "urgency": "scheduled",
            "mode": slot.mode,
            "language": slot.language,
            "slot": {"supporter_id": slot.supporter_id, "starts_at": slot.starts_at},
            "channel": "lms",
        },
        strict=False,
    )
    who = RequesterIdentityIn.model_construct(platform=platform, subject=subject)
    request, _token = requests.create(ctx, data.model_copy(update={"requester": who}))
    booking_id = ctx.session.scalar(
        select(Booking.id).where(Booking.request_id == request.id, Booking.status == "confirmed")
    )
    assert booking_id is not None, "a scheduled request with a slot is booked or refused"
    return booking_id
