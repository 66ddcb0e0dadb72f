"""/api/v1/slots and /api/v1/bookings"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from core.api.context import ctx
from core.api.framework import ANONYMOUS, REQUESTER, ApiBlueprint
from core.api.supporters import _program
from core.schemas.requests import BookingIn, BookingOut, BookingQuery, CancelIn, RescheduleIn
from core.schemas.slots import Slot, SlotList, SlotQuery
from core.schemas.supporters import SupporterPublic
from core.services import bookings, programs, slots

bp = ApiBlueprint("scheduling", __name__, tag="scheduling")
EVERYONE = {ANONYMOUS, REQUESTER, "admin", "coordinator", "supporter", "service"}
CHANGERS = {REQUESTER, "service"}


@bp.operation(
    "GET",
    "/slots",
    summary="Free slots across a program, in the viewer's time zone",
    roles=EVERYONE,
    query=SlotQuery,
    response=SlotList,
    errors=(404,),
)
def search_slots(principal: Any, query: SlotQuery) -> SlotList:
    c = ctx()
    program = programs.get_program(c, query.program)
    zone = ZoneInfo(query.tz or program.time_zone)
    start, end = slots.window(c, program, query.start, query.end)
    wanted = slots.SlotFilter(
        start=start,
        end=end,
        topic=query.topic,
        language=query.language,
        mode=query.mode,
        supporter_id=query.supporter,
    )
    found = slots.search(c, program, wanted)
    return SlotList(
        time_zone=zone.key,
        slots=[
            Slot(
                starts_at=f.interval.start.astimezone(zone),
                ends_at=f.interval.end.astimezone(zone),
                supporter=SupporterPublic.model_validate(f.supporter),
            )
            for f in found
        ],
    )


@bp.operation(
    "POST",
    "/bookings",
    summary="Book a slot for an open request",
    roles=CHANGERS,
    body=BookingIn,
    response=BookingOut,
    status=201,
    errors=(404, 409),
    idempotent=True,
)
def create_booking(principal: Any, body: BookingIn) -> BookingOut:
    c = ctx()
    return bookings.booking_out(c, bookings.book(c, body))


@bp.operation(
    "GET",
    "/bookings",
    summary="Bookings: a supporter's own, or the program's schedule",
    roles={"coordinator", "supporter", "service"},
    query=BookingQuery,
    response=list[BookingOut],
)
def list_bookings(principal: Any, query: BookingQuery) -> list[BookingOut]:
    c = ctx()
    program = _program(c, query.program)
    found = bookings.list_bookings(
        c,
        program,
        supporter_id=query.supporter,
        start=query.start,
        end=query.end,
        status=query.status,
    )
    return [bookings.booking_out(c, b) for b in found]


@bp.operation(
    "GET",
    "/bookings/<uuid:booking_id>",
    summary="One booking",
    roles={REQUESTER, "coordinator", "supporter", "service"},
    response=BookingOut,
    errors=(404,),
)
def get_booking(principal: Any, booking_id: uuid.UUID) -> BookingOut:
    c = ctx()
    return bookings.booking_out(c, bookings.get_booking(c, booking_id))


@bp.operation(
    "POST",
    "/bookings/<uuid:booking_id>/cancel",
    summary="Cancel a booking",
    roles={REQUESTER, "coordinator", "supporter", "service"},
    body=CancelIn,
    response=BookingOut,
    errors=(404, 409),
)
def cancel_booking(principal: Any, booking_id: uuid.UUID, body: CancelIn) -> BookingOut:
    c = ctx()
    return bookings.booking_out(c, bookings.cancel(c, booking_id))


@bp.operation(
    "POST",
    "/bookings/<uuid:booking_id>/reschedule",
    summary="Move a booking to another free slot",
    roles=CHANGERS,
    body=RescheduleIn,
    response=BookingOut,
    errors=(404, 409),
)
def reschedule_booking(principal: Any, booking_id: uuid.UUID, body: RescheduleIn) -> BookingOut:
    c = ctx()
    return bookings.booking_out(c, bookings.reschedule(c, booking_id, body))
