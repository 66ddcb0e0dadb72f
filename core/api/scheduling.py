"""/api/v1/slots and /api/v1/bookings"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response
from pydantic import TypeAdapter

from core.api.context import ctx
from core.api.framework import ANONYMOUS, REQUESTER, ApiBlueprint
from core.api.supporters import _program
from core.domain.availability import utc_instant
from core.schemas.requests import BookingIn, BookingOut, BookingQuery, CancelIn, RescheduleIn
from core.schemas.slots import SlotList, SlotQuery
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
def search_slots(principal: Any, query: SlotQuery) -> Response:
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
    return slot_list_response(zone, slots.search_starts(c, program, wanted))


def slot_list_response(zone: ZoneInfo, found: slots.Starts) -> Response:
    """A SlotList's JSON written from the search's numbers, exactly as the schema would write it.

    Each supporter is written once and each instant once (slots of a program share their
    starts), so a search of thousands of slots costs a string join, not thousands of models.
    """
    people = [_compact(_SUPPORTER.dump_python(SupporterPublic.model_validate(s), mode="json"))
              for s in found.supporters]  # fmt: skip
    session = int(found.session.total_seconds())
    opening = {  # each slot is its start's opening, its supporter, and a brace
        second: f'{{"ends_at":{_instant(second + session, zone)},'
        f'"starts_at":{_instant(second, zone)},"supporter":'
        for second in found.seconds()
    }
    items = ",".join(opening[second] + people[index] + "}" for second, index in found.pairs())
    body = f'{{"slots":[{items}],"time_zone":{_compact(zone.key)}}}\n'
    return Response(body, mimetype="application/json")


@lru_cache(maxsize=1 << 16)  # searches share their instants: the same quarter-hours all day
def _instant(second: int, zone: ZoneInfo) -> str:
    """An epoch second in the viewer's zone, as the schema writes a datetime."""
    return _compact(_INSTANT.dump_python(utc_instant(second).astimezone(zone), mode="json"))


def _compact(value: Any) -> str:
    """As the API's JSON provider writes a value: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_SUPPORTER = TypeAdapter(SupporterPublic)
_INSTANT = TypeAdapter(datetime)


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
    return bookings.book(c, body)


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
