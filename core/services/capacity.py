"""How much a supporter already carries: sessions this week and chats right now."""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.domain.availability import Interval
from core.models import Booking, Program, Supporter, SupportRequest
from core.services.access import Ctx
from core.services.supporter_ids import SupporterIds, certainly_none

LIVE_CHAT = ("matched", "in_chat")


def week_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """Monday 00:00 of the moment's week in the program's time zone, as UTC."""
    local = moment.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def weeks_between(start: datetime, end: datetime, zone: ZoneInfo) -> list[Interval]:
    """The program weeks that touch [start, end)."""
    weeks: list[Interval] = []
    cursor = week_start(start, zone)
    while cursor < end:
        local_next = (cursor.astimezone(zone) + timedelta(days=7)).date()
        following = datetime.combine(local_next, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
        weeks.append(Interval(cursor, following))
        cursor = following
    return weeks


def sessions_per_week(
    ctx: Ctx,
    program: Program,
    ids: SupporterIds,
    weeks: list[Interval],
    ignore_booking: uuid.UUID | None = None,
    booked: Iterable[tuple[uuid.UUID, datetime]] | None = None,
    chats: Iterable[tuple[uuid.UUID, datetime]] | None = None,
) -> Counter[tuple[uuid.UUID, datetime]]:
    """Booked sessions and accepted talk-now chats, per supporter and week start.

    `booked` is the (supporter, start) of their non-cancelled bookings, and `chats` the
    (supporter, matched at) of their talk-now requests, when the caller has read them already
    (a slot search has the bookings, the booking re-check both); moments outside the weeks
    are ignored.
    """
    counts: Counter[tuple[uuid.UUID, datetime]] = Counter()
    if certainly_none(ids) or not weeks:
        return counts
    start, end = weeks[0].start, weeks[-1].end
    starts = [w.start for w in weeks]
    if booked is None:
        booked = ctx.session.execute(
            select(Booking.supporter_id, Booking.starts_at).where(
                Booking.supporter_id.in_(ids),
                Booking.status != "cancelled",
                Booking.starts_at >= start,
                Booking.starts_at < end,
                Booking.id != ignore_booking,
            )
        )
    if chats is None:
        chats = ctx.session.execute(
            select(SupportRequest.supporter_id, SupportRequest.matched_at).where(
                SupportRequest.supporter_id.in_(ids),
                SupportRequest.urgency == "now",
                SupportRequest.matched_at >= start,
                SupportRequest.matched_at < end,
            )
        )
    for supporter_id, moment in [*booked, *chats]:
        if start <= moment < end:
            counts[(supporter_id, starts[bisect_right(starts, moment) - 1])] += 1
    return counts


def live_chats(ctx: Ctx, supporter_ids: Iterable[uuid.UUID]) -> Counter[uuid.UUID]:
    ids = list(supporter_ids)
    if not ids:
        return Counter()
    rows = ctx.session.execute(
        select(SupportRequest.supporter_id, func.count())
        .where(
            SupportRequest.supporter_id.in_(ids),
            SupportRequest.status.in_(LIVE_CHAT),
            SupportRequest.urgency == "now",
        )
        .group_by(SupportRequest.supporter_id)
    )
    return Counter({supporter_id: count for supporter_id, count in rows if supporter_id})


class Capped(Protocol):
    @property
    def weekly_cap(self) -> int | None: ...


def weekly_cap(supporter: Capped, program: Program) -> int:
    return min(supporter.weekly_cap or program.weekly_cap, program.weekly_cap)


def concurrent_cap(supporter: Supporter, program: Program) -> int:
    return min(supporter.concurrent_cap or program.concurrent_cap, program.concurrent_cap)
