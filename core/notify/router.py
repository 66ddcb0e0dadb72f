"""Which notifications a domain event causes: decided inside the transaction that caused it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import events
from core.models import Booking, Offer, Program, RequesterIdentity, Supporter, SupportRequest
from core.notify.kinds import conversation_order
from core.ports import Audience, Notification
from core.schemas.programs import NOT_A_CRISIS_SERVICE
from core.services.programs import crisis_resources_for

Route = Callable[[Session, Any], list[Notification]]
ExtraRoute = Callable[[Session, events.DomainEvent], list[Notification]]
"""A plugin's own notifications for a domain event, decided in the transaction that caused it."""


def snapshot(
    session: Session, program: Program, audience: Audience, time_zone: str | None = None
) -> dict[str, Any]:
    """The keys every message carries; a requester's always include the crisis resources."""
    data: dict[str, Any] = {
        "program": {"name": program.name, "slug": program.slug},
        "time_zone": time_zone or program.time_zone,
        "locale": program.locale,
    }
    if audience == "requester":
        data["not_a_crisis"] = NOT_A_CRISIS_SERVICE
        data["crisis_resources"] = [
            r.model_dump(mode="json") for r in crisis_resources_for(program)
        ]
    return data


def has_identity(session: Session, request: SupportRequest) -> bool:
    """Only a requester who came through a platform (or left an e-mail) can be messaged.

    The booking's lock of the request reads this with it (`SupportRequest.has_identity`).
    """
    if request.has_identity is not None:
        return request.has_identity
    found = session.scalar(
        select(RequesterIdentity.id).where(RequesterIdentity.request_id == request.id)
    )
    return found is not None


def to_requester(
    session: Session,
    request: SupportRequest,
    kind: str,
    key: str,
    order_key: str | None = None,
    **data: Any,
) -> list[Notification]:
    if not has_identity(session, request):
        return []
    program = session.get_one(Program, request.program_id)
    return [
        Notification(
            dedupe_key=key,
            program_id=program.id,
            audience="requester",
            kind=kind,
            request_id=request.id,
            supporter_id=request.supporter_id,
            data=snapshot(session, program, "requester") | data,
            order_key=order_key,
        )
    ]


def to_supporter(
    session: Session,
    supporter: Supporter,
    kind: str,
    key: str,
    request_id: uuid.UUID | None = None,
    **data: Any,
) -> list[Notification]:
    program = session.get_one(Program, supporter.program_id)
    return [
        Notification(
            dedupe_key=key,
            program_id=program.id,
            audience="supporter",
            kind=kind,
            request_id=request_id,
            supporter_id=supporter.id,
            data=snapshot(session, program, "supporter", supporter.time_zone) | data,
        )
    ]


def iso(moment: datetime) -> str:
    return moment.isoformat()


def booking_data(booking: Booking) -> dict[str, Any]:
    return {
        "uid": booking.calendar_uid,
        "sequence": booking.sequence,
        "starts_at": iso(booking.starts_at),
        "ends_at": iso(booking.ends_at),
        "mode": booking.mode,
    }


def _offer_made(session: Session, event: events.OfferMade) -> list[Notification]:
    request = session.get_one(SupportRequest, event.request_id)
    return to_supporter(
        session,
        session.get_one(Supporter, event.supporter_id),
        "offer_made",
        f"offer_made:{event.offer_id}",
        request_id=request.id,
        request_alias=request.alias,
        topic=request.topic,
        mode=request.mode,
        language=request.language,
        is_urgent=request.is_urgent,
        expires_at=iso(event.expires_at),
    )


def _offer_accepted(session: Session, event: events.OfferAccepted) -> list[Notification]:
    request = session.get_one(SupportRequest, event.request_id)
    supporter = session.get_one(Supporter, event.supporter_id)
    found = to_requester(
        session,
        request,
        "matched",
        f"matched:{request.id}",
        supporter_alias=supporter.alias,
        mode=request.mode,
    )
    for offer_id in event.superseded_offer_ids:
        found += _offer_closed(session, request, offer_id, "offer_taken")
    return found


def _offer_closed(
    session: Session, request: SupportRequest, offer_id: uuid.UUID, kind: str
) -> list[Notification]:
    offer = session.get_one(Offer, offer_id)
    supporter = session.get_one(Supporter, offer.supporter_id)
    return to_supporter(session, supporter, kind, f"{kind}:{offer_id}", request_alias=request.alias)


def _offer_expired(session: Session, event: events.OfferExpired) -> list[Notification]:
    request = session.get_one(SupportRequest, event.request_id)
    return _offer_closed(session, request, event.offer_id, "offer_expired")


def _nobody_free(session: Session, event: events.NobodyFree) -> list[Notification]:
    request = session.get_one(SupportRequest, event.request_id)
    program = session.get_one(Program, request.program_id)
    return to_requester(
        session,
        request,
        "nobody_free",
        f"nobody_free:{request.id}",
        wait_minutes=program.now_wait_minutes,
        can_book=True,
    )


def _session_closed(session: Session, event: events.SessionClosed) -> list[Notification]:
    request = session.get_one(SupportRequest, event.request_id)
    if event.outcome == "expired":
        return to_requester(
            session, request, "request_expired", f"request_expired:{request.id}", can_book=True
        )
    if event.outcome == "completed" and event.supporter_id is not None:
        supporter = session.get_one(Supporter, event.supporter_id)
        return to_requester(
            session,
            request,
            "feedback_prompt",
            f"feedback_prompt:{request.id}",
            order_key=conversation_order(request.id, "requester"),  # after "the chat ended"
            supporter_alias=supporter.alias,
        )
    return []


def booking_notifications(
    session: Session, booking: Booking, kind: str, key_suffix: str = "", **extra: Any
) -> list[Notification]:
    """The same booking news to both sides, each seeing only the other's alias."""
    request = session.get_one(SupportRequest, booking.request_id)
    supporter = session.get_one(Supporter, booking.supporter_id)
    base = f"{kind}:{booking.id}:{booking.sequence}{key_suffix}"
    details = {"booking": booking_data(booking)} | extra
    return to_requester(
        session, request, kind, f"{base}:requester", other_alias=supporter.alias, **details
    ) + to_supporter(
        session,
        supporter,
        kind,
        f"{base}:supporter",
        request_id=request.id,
        other_alias=request.alias,
        **details,
    )


def about_booking(
    session: Session, booking_id: uuid.UUID, kind: str, *, via: str, **extra: Any
) -> Notification:
    """A plugin's own work on a booking (e.g. its calendar event), for the supporter's channel.

    Pinned to the channel `via`, one per booking change (booking id and sequence), done in
    order per booking; the snapshot holds the booking's times and mode, nothing of the request.
    """
    booking = session.get_one(Booking, booking_id)
    supporter = session.get_one(Supporter, booking.supporter_id)
    [note] = to_supporter(
        session,
        supporter,
        kind,
        f"{kind}:{booking.id}:{booking.sequence}",
        request_id=booking.request_id,
        booking=booking_data(booking),
        booking_id=str(booking.id),
        via=via,
        **extra,
    )
    return replace(note, order_key=f"{kind}:{booking.id}")


def booking_news(
    session: Session, booking_id: uuid.UUID, kind: str, **extra: Any
) -> list[Notification]:
    """A plugin's news of a confirmed booking (a join link) to both sides; none once cancelled."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.status != "confirmed":
        return []
    return booking_notifications(session, booking, kind, **extra)


def _booking_event(kind: str, method: str) -> Route:
    def route(session: Session, event: Any) -> list[Notification]:
        booking = session.get_one(Booking, event.booking_id)
        extra: dict[str, Any] = {"method": method}
        if kind == "booking_cancelled":
            extra["cancelled_by"] = event.cancelled_by
        return booking_notifications(session, booking, kind, **extra)

    return route


ROUTES: dict[type[events.DomainEvent], Route] = {
    events.OfferMade: _offer_made,
    events.OfferAccepted: _offer_accepted,
    events.OfferExpired: _offer_expired,
    events.NobodyFree: _nobody_free,
    events.SessionClosed: _session_closed,
    events.BookingConfirmed: _booking_event("booking_confirmed", "REQUEST"),
    events.BookingRescheduled: _booking_event("booking_changed", "REQUEST"),
    events.BookingCancelled: _booking_event("booking_cancelled", "CANCEL"),
}


def notifications_for(session: Session, event: events.DomainEvent) -> list[Notification]:
    route = ROUTES.get(type(event))
    return route(session, event) if route is not None else []
