"""Bookings: reserve a supporter's slot for a request; cancel; reschedule."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import events
from core.errors import (
    ChangeClosed,
    Conflict,
    Forbidden,
    NotFound,
    SlotUnavailable,
    ValidationFailed,
)
from core.models import Booking, Program, Supporter, SupportRequest
from core.notify.wording import duration
from core.schemas.requests import BookingIn, BookingOut, RescheduleIn
from core.services import audit, booking_locks, slot_check
from core.services.access import Ctx, require
from core.services.requests import brief_of, get_request

CHANGEABLE = ("requester", "service", "system")


def book(ctx: Ctx, data: BookingIn) -> BookingOut:
    """Book a slot for an open request (its requester or an integration).

    The session keeps rows only while something refers to them, so the rows this holds are
    what the outbox (at commit) and the answer (after it) read, with no second query.
    """
    principal = ctx.principal
    if principal.role == "requester" and principal.program_id is not None:
        if principal.request_id != data.request_id:
            raise NotFound("no such request", field="request_id")
        # the token named the program: it is read with the supporter's lock, and the
        # request under its own
        program, supporter = booking_locks.lock_supporter_and_program(
            ctx, principal.program_id, data.supporter_id
        )
    else:
        program = _program_of(ctx, data.request_id)
        supporter = booking_locks.lock_supporter(ctx, program, data.supporter_id)
    reserved = _reserve(ctx, program, supporter, data.request_id, data.starts_at)
    ctx.session.commit()  # the outbox finds the supporter and the request `reserved` holds
    return booking_out(ctx, reserved.booking)


def _program_of(ctx: Ctx, request_id: uuid.UUID) -> Program:
    """The program of a request the caller may book for (a caller other than its requester)."""
    request = get_request(ctx, request_id)
    if ctx.principal.role not in CHANGEABLE:
        raise Forbidden("bookings are made by the requester or an integration")
    return ctx.session.get_one(Program, request.program_id)


def book_for(
    ctx: Ctx,
    program: Program,
    request: SupportRequest,
    supporter_id: uuid.UUID,
    starts_at: datetime,
) -> Booking:
    """Inside the caller's transaction: lock the supporter, re-check the slot, insert."""
    supporter = booking_locks.lock_supporter(ctx, program, supporter_id)
    return _reserve(ctx, program, supporter, request.id, starts_at).booking


class Reserved(NamedTuple):
    booking: Booking
    supporter: Supporter
    request: SupportRequest


def _reserve(
    ctx: Ctx,
    program: Program,
    supporter: Supporter,
    request_id: uuid.UUID,
    starts_at: datetime,
) -> Reserved:
    """With the supporter locked: lock the request, re-check the slot, write, audit."""
    ctx.session.flush()  # a request made in this transaction must exist before it is locked
    request = booking_locks.schedule_request(ctx, program, supporter, request_id)
    if str(supporter.id) in request.excluded_supporter_ids or request.mode not in supporter.modes:
        raise SlotUnavailable("that slot is not available", field="starts_at")
    if not slot_check.is_bookable(ctx, program, supporter, starts_at):
        raise SlotUnavailable(
            "that slot is no longer available; please pick another", field="starts_at"
        )
    booking = Booking(
        id=uuid.uuid4(),
        program_id=program.id,
        supporter_id=supporter.id,
        request_id=request.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=program.session_minutes),
        mode=request.mode,
        status="confirmed",
        calendar_uid=f"{uuid.uuid4()}@peerline",
        sequence=0,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(booking)
    supporter.last_assigned_at = ctx.now
    audit.record(ctx, program.id, "booking.confirmed", "booking", booking.id)  # one flush
    _flush_or_conflict(ctx)  # a refused booking rolls back, its audit record with it
    events.record(
        ctx.session,
        events.BookingConfirmed(
            program_id=program.id,
            at=ctx.now,
            booking_id=booking.id,
            request_id=request.id,
            supporter_id=supporter.id,
        ),
    )
    return Reserved(booking, supporter, request)


def _flush_or_conflict(ctx: Ctx) -> None:
    try:
        ctx.session.flush()
    except IntegrityError as exc:
        ctx.session.rollback()
        if "uq_bookings_active_request" in str(exc.orig) or "request_id" in str(exc.orig):
            raise Conflict("this request already has a booking", field="request_id") from None
        raise SlotUnavailable(
            "that slot was just taken; please pick another", field="starts_at"
        ) from None


def get_booking(ctx: Ctx, booking_id: uuid.UUID) -> Booking:
    booking = ctx.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("no such booking", field="booking_id")
    principal = ctx.principal
    if principal.role == "requester" and principal.request_id == booking.request_id:
        return booking
    if principal.role == "supporter" and principal.supporter_id == booking.supporter_id:
        require(principal, booking.program_id, "supporter")
        return booking
    if principal.role in ("requester", "supporter"):
        raise NotFound("no such booking", field="booking_id")
    require(principal, booking.program_id, "coordinator", "service")
    return booking


def list_bookings(
    ctx: Ctx,
    program: Program,
    *,
    supporter_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    status: str | None,
) -> list[Booking]:
    if ctx.principal.role == "supporter":
        require(ctx.principal, program.id, "supporter")
        supporter_id = ctx.principal.supporter_id
    else:
        require(ctx.principal, program.id, "coordinator", "service")
    query = select(Booking).where(Booking.program_id == program.id)
    if supporter_id:
        query = query.where(Booking.supporter_id == supporter_id)
    if start:
        query = query.where(Booking.ends_at > start)
    if end:
        query = query.where(Booking.starts_at < end)
    if status:
        query = query.where(Booking.status == status)
    return list(ctx.session.scalars(query.order_by(Booking.starts_at).limit(1000)))


def booking_out(ctx: Ctx, booking: Booking) -> BookingOut:
    """Coordinators see the schedule; only the two people in it see the request's alias."""
    show_alias = ctx.principal.role in ("requester", "supporter", "service", "system")
    request = ctx.session.get_one(SupportRequest, booking.request_id) if show_alias else None
    return BookingOut(
        **brief_of(ctx, booking).model_dump(), request_alias=request.alias if request else None
    )


def changes_close_at(program: Program, starts_at: datetime) -> datetime:
    """The last moment a requester may cancel or move a session starting at `starts_at`."""
    return starts_at - timedelta(minutes=program.change_cutoff_minutes)


def check_change_window(ctx: Ctx, booking: Booking) -> None:
    """Requesters change a booking only until the cut-off; supporters and staff at any time."""
    if ctx.principal.role != "requester" or booking.status != "confirmed":
        return
    program = ctx.session.get_one(Program, booking.program_id)
    if ctx.now < changes_close_at(program, booking.starts_at):
        return
    raise ChangeClosed(change_rule(program), field="booking_id")


def change_rule(program: Program) -> str:
    """What a requester is told once changes have closed, and whom to tell instead."""
    who = "the program's coordinators"
    if program.notify_email:
        who += f" ({program.notify_email})"
    return (
        f"changes close {duration(program.change_cutoff_minutes)} before the session; "
        f"contact {who} if you cannot come"
    )


def cancel(ctx: Ctx, booking_id: uuid.UUID) -> Booking:
    booking = get_booking(ctx, booking_id)
    if booking.status != "confirmed":
        raise Conflict(f"this booking is already {booking.status}", field="booking_id")
    check_change_window(ctx, booking)
    cancel_in_place(ctx, booking, by=ctx.principal.role)
    ctx.session.commit()
    return booking


def cancel_in_place(ctx: Ctx, booking: Booking, *, by: str, close_request: bool = True) -> None:
    """Cancel within the caller's unit of work; the request closes as cancelled."""
    from core.services.requests import close  # requests import this module; import late

    booking.status, booking.cancelled_by = "cancelled", by
    booking.sequence += 1
    booking.updated_at = ctx.now
    events.record(
        ctx.session,
        events.BookingCancelled(
            program_id=booking.program_id,
            at=ctx.now,
            booking_id=booking.id,
            request_id=booking.request_id,
            supporter_id=booking.supporter_id,
            cancelled_by=by,
        ),
    )
    audit.record(ctx, booking.program_id, "booking.cancelled", "booking", booking.id, by=by)
    request = ctx.session.get_one(SupportRequest, booking.request_id)
    if close_request and request.status != "closed":
        close(ctx, request, "cancelled")


def reschedule(ctx: Ctx, booking_id: uuid.UUID, data: RescheduleIn) -> Booking:
    """Move a booking (same calendar UID, SEQUENCE + 1); the old time is freed atomically."""
    booking = get_booking(ctx, booking_id)
    if ctx.principal.role not in CHANGEABLE:
        raise Forbidden("bookings are moved by the requester or an integration")
    if booking.status != "confirmed":
        raise Conflict(f"this booking is {booking.status}", field="booking_id")
    check_change_window(ctx, booking)
    if data.starts_at == booking.starts_at and data.supporter_id in (None, booking.supporter_id):
        raise ValidationFailed("starts_at: that is the current time", field="starts_at")
    program = ctx.session.get_one(Program, booking.program_id)
    supporter = booking_locks.lock_supporter(
        ctx, program, data.supporter_id or booking.supporter_id
    )
    if not slot_check.is_bookable(
        ctx, program, supporter, data.starts_at, ignore_booking=booking.id
    ):
        raise SlotUnavailable("that slot is not available; please pick another", field="starts_at")
    booking.supporter_id, booking.starts_at = supporter.id, data.starts_at
    booking.ends_at = data.starts_at + timedelta(minutes=program.session_minutes)
    booking.sequence += 1
    booking.updated_at = ctx.now
    _flush_or_conflict(ctx)
    request = ctx.session.get_one(SupportRequest, booking.request_id)
    request.supporter_id = supporter.id
    events.record(
        ctx.session,
        events.BookingRescheduled(
            program_id=program.id,
            at=ctx.now,
            booking_id=booking.id,
            request_id=booking.request_id,
            supporter_id=supporter.id,
        ),
    )
    audit.record(ctx, program.id, "booking.rescheduled", "booking", booking.id)
    ctx.session.commit()
    return booking
