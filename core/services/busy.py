"""Outside calendars' busy times (free/busy), kept per supporter and subtracted from slots.

A calendar plugin refreshes them on the worker's tick, so slot search never waits on an
outside service. Only the stretches are stored, never a subject, a place or who else is in
it. A stretch not refreshed for `FRESH_FOR` stops counting: an outage or a plugin turned off
reopens the slots rather than closing them for good.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from core.domain.availability import Interval
from core.errors import Forbidden
from core.models import Booking, ExternalBusy, Program, Supporter, SupporterContact
from core.services.access import Ctx
from core.services.supporter_ids import SupporterIds, certainly_none

FRESH_FOR = timedelta(days=1)
MAX_STRETCHES = 2000  # per supporter and refresh; far above any real calendar's few weeks


@dataclass(frozen=True)
class CalendarOwner:
    """A supporter whose outside calendar a plugin reads, and how far ahead to read it."""

    supporter_id: uuid.UUID
    address: str  # their address on the plugin's platform, for the plugin's call only
    horizon_days: int


def calendar_owners(ctx: Ctx, platform: str) -> list[CalendarOwner]:
    """Supporters not offboarded with a contact on `platform` (one address each)."""
    _system_only(ctx)
    rows = ctx.session.execute(
        select(SupporterContact.supporter_id, SupporterContact.address, Program.horizon_days)
        .join(Supporter, Supporter.id == SupporterContact.supporter_id)
        .join(Program, Program.id == Supporter.program_id)
        .where(SupporterContact.platform == platform, Supporter.status != "offboarded")
        .order_by(SupporterContact.supporter_id, SupporterContact.address)
    )
    owners: dict[uuid.UUID, CalendarOwner] = {}
    for supporter_id, address, horizon in rows:
        owners.setdefault(supporter_id, CalendarOwner(supporter_id, address, horizon))
    return list(owners.values())


def replace(
    ctx: Ctx,
    supporter_id: uuid.UUID,
    source: str,
    stretches: Iterable[tuple[datetime, datetime]],
    *,
    start: datetime,
    end: datetime,
) -> int:
    """The supporter's busy times from `source` become these (cut to [start, end)); commits."""
    _system_only(ctx)
    kept = _merged(
        (max(lo, start), min(hi, end)) for lo, hi in stretches if lo < end and hi > start
    )[:MAX_STRETCHES]
    ctx.session.scalar(  # the supporter's row lock, as bookings take it: one refresh at a time
        select(Supporter.id).where(Supporter.id == supporter_id).with_for_update()
    )
    ctx.session.execute(
        delete(ExternalBusy).where(
            ExternalBusy.supporter_id == supporter_id, ExternalBusy.source == source
        )
    )
    ctx.session.add_all(
        ExternalBusy(
            supporter_id=supporter_id,
            source=source,
            starts_at=lo,
            ends_at=hi,
            fetched_at=ctx.now,
        )
        for lo, hi in kept
    )
    ctx.session.commit()
    return len(kept)


def forget_others(ctx: Ctx, source: str, keep: Collection[uuid.UUID]) -> int:
    """Drop `source`'s busy times of supporters it no longer reads, and those long past."""
    _system_only(ctx)
    gone = ctx.session.execute(
        delete(ExternalBusy).where(
            ExternalBusy.source == source,
            ExternalBusy.supporter_id.not_in(list(keep)) | (ExternalBusy.ends_at < ctx.now),
        )
    )
    ctx.session.commit()
    return int(gone.rowcount)  # type: ignore[attr-defined]


def busy_intervals(
    ctx: Ctx, ids: SupporterIds, start: datetime, end: datetime
) -> dict[uuid.UUID, list[Interval]]:
    """Fresh outside busy times touching [start, end), without our own sessions' events.

    A stretch exactly matching one of the supporter's bookings is the meeting PeerLine put in
    their calendar; the booking itself (with its buffer) blocks that time already.
    """
    by_supporter: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    if certainly_none(ids):
        return by_supporter
    ours = exists().where(
        Booking.supporter_id == ExternalBusy.supporter_id,
        Booking.starts_at == ExternalBusy.starts_at,
        Booking.ends_at == ExternalBusy.ends_at,
    )
    rows = ctx.session.execute(
        select(ExternalBusy.supporter_id, ExternalBusy.starts_at, ExternalBusy.ends_at)
        .where(
            ExternalBusy.supporter_id.in_(ids),
            ExternalBusy.ends_at > start,
            ExternalBusy.starts_at < end,
            ExternalBusy.fetched_at > ctx.now - FRESH_FOR,
            ~ours,
        )
        .order_by(ExternalBusy.starts_at)
    )
    for supporter_id, starts_at, ends_at in rows:
        by_supporter[supporter_id].append(Interval(starts_at, ends_at))
    return by_supporter


def _merged(stretches: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted, with overlapping or touching stretches as one."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(s for s in stretches if s[0] < s[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _system_only(ctx: Ctx) -> None:
    """Addresses and outside calendars are the worker's business, never an HTTP caller's."""
    if ctx.principal.role != "system":
        raise Forbidden("only the worker reads outside calendars")
