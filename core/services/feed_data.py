"""What a calendar feed shows: one person's confirmed sessions, each read in one query.

A feed is polled often (Moodle, Google, Outlook), so whether it changed is its owner's
calendar version, read in the statement that finds the feed; its sessions are a single join,
never a query per booking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Label, Select, select

from core.calendar_watch import requester_key, supporter_key
from core.models import (
    Booking,
    Program,
    RequesterCalendar,
    RequesterIdentity,
    Supporter,
    SupporterCalendar,
    SupportRequest,
)
from core.services.access import Ctx, require, require_self_or

PAST = timedelta(days=30)
"""How far back a feed reaches; forward it holds every confirmed session."""
LONGEST_SESSION = timedelta(days=1)
"""More than any session lasts: bounds the index range of sessions still ending in the window."""


@dataclass(frozen=True)
class FeedSession:
    """One confirmed session as a feed shows it: times, calendar identity, aliases only."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    updated_at: datetime
    mode: str
    request_alias: str


@dataclass(frozen=True)
class FeedState:
    """Enough to tell whether a feed changed without reading its sessions.

    `version` is the owner's calendar version (core.models.calendar), which the database
    changes with every change to one of their bookings; `since` is where the window starts.
    """

    version: int
    since: datetime


@dataclass(frozen=True)
class FeedScope:
    """Whose confirmed sessions, ending after when.

    The window starts 30 days before the start of today (UTC), so it moves once a day: a
    session leaves the feed at a day's turn, and `since`, which is in the ETag, moves with it.
    It has no far end: a booking is made inside the program's horizon, so nothing enters a
    feed as time passes.
    """

    program_id: uuid.UUID
    start: datetime
    supporter_id: uuid.UUID | None = None
    identity_key: str | None = None

    @property
    def watch_key(self) -> str:
        """Whose calendar, as core.calendar_watch hears of its changes."""
        if self.supporter_id is not None:
            return supporter_key(self.supporter_id)
        assert self.identity_key is not None
        return requester_key(self.identity_key)

    def conditions(self) -> list[ColumnElement[bool]]:
        """Cancelled bookings are simply absent, so calendars that mirror a feed delete them."""
        if self.supporter_id is not None:
            owner = Booking.supporter_id == self.supporter_id
        else:
            owner = Booking.request_id.in_(_requests_of(self.identity_key))
        return [
            Booking.program_id == self.program_id,
            owner,
            Booking.status == "confirmed",
            Booking.ends_at > self.start,
            Booking.starts_at > self.start - LONGEST_SESSION,  # narrows the index range
        ]


def window_start(now: datetime) -> datetime:
    """Where a feed polled at `now` starts: 30 days before the start of today (UTC)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - PAST


def _requests_of(identity_key: Any) -> Select[uuid.UUID]:
    return select(RequesterIdentity.request_id).where(RequesterIdentity.lookup_hash == identity_key)


def state_columns(
    program_id: ColumnElement[uuid.UUID],
    supporter_id: ColumnElement[uuid.UUID | None],
    identity_key: ColumnElement[str | None],
) -> list[Label[Any]]:
    """Whether a feed's owner still is, and their calendar version, as columns.

    Correlated to the caller's columns, so a plugin's own lookup of a feed (its token) reads
    the feed's state in the same statement: an unchanged feed's poll is one primary-key read
    per table. Read them back with `state_of`.
    """
    return [
        select(Supporter.status)
        .where(Supporter.id == supporter_id, Supporter.program_id == program_id)
        .scalar_subquery()
        .label("feed_supporter_status"),
        select(Program.id).where(Program.id == program_id).scalar_subquery().label("feed_program"),
        select(SupporterCalendar.version)
        .where(SupporterCalendar.supporter_id == supporter_id)
        .scalar_subquery()
        .label("feed_supporter_version"),
        select(RequesterCalendar.version)
        .where(RequesterCalendar.lookup_hash == identity_key)
        .scalar_subquery()
        .label("feed_requester_version"),
    ]


def state_of(row: Any, scope: FeedScope) -> FeedState | None:
    """The state read through `state_columns`; None once the owner has no feed (offboarded)."""
    if scope.supporter_id is not None:
        if row.feed_supporter_status in (None, "offboarded"):
            return None
        version = row.feed_supporter_version
    else:
        if row.feed_program is None:
            return None
        version = row.feed_requester_version
    return FeedState(version or 0, scope.start)


def supporter_scope(now: datetime, program_id: uuid.UUID, supporter_id: uuid.UUID) -> FeedScope:
    """A supporter's feed: their sessions."""
    return FeedScope(program_id, window_start(now), supporter_id=supporter_id)


def requester_scope(now: datetime, program_id: uuid.UUID, identity_key: str) -> FeedScope:
    """Every request one identity made in the program (integrations' feeds for students).

    `identity_key` is `cipher.lookup_hash(platform, subject)`, so a feed can be served
    without ever keeping the subject.
    """
    return FeedScope(program_id, window_start(now), identity_key=identity_key)


def sessions(ctx: Ctx, scope: FeedScope) -> list[FeedSession]:
    """The sessions with the request's alias, by start: one join, never a query per booking."""
    _authorize(ctx, scope.program_id, scope.supporter_id)
    rows = ctx.session.execute(
        select(
            Booking.calendar_uid,
            Booking.sequence,
            Booking.starts_at,
            Booking.ends_at,
            Booking.updated_at,
            Booking.mode,
            SupportRequest.alias,
        )
        .join(SupportRequest, SupportRequest.id == Booking.request_id)
        .where(*scope.conditions())
        .order_by(Booking.starts_at, Booking.calendar_uid)
    )
    return [FeedSession(*row) for row in rows]


def _authorize(ctx: Ctx, program_id: uuid.UUID, supporter_id: uuid.UUID | None) -> None:
    """The supporter themselves (or the integration); a requester's feed: integrations only."""
    if supporter_id is not None:
        require_self_or(ctx.principal, program_id, supporter_id, "service")
    else:
        require(ctx.principal, program_id, "service")
