"""What a calendar feed shows: one person's confirmed sessions, each read in one query.

A feed is polled often (Moodle, Google, Outlook), so its state (has anything changed?) is a
single aggregate, and its sessions a single join: never a query per booking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from core.errors import NotFound
from core.models import Booking, Program, RequesterIdentity, Supporter, SupportRequest
from core.services.access import Ctx, require, require_self_or

PAST = timedelta(days=30)
"""How far back a feed reaches; forward it reaches the program's booking horizon."""


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
    """Enough to tell whether a feed changed without reading its sessions."""

    sessions: int
    newest_change: datetime | None
    sequences: int

    @classmethod
    def of(cls, sessions: list[FeedSession]) -> FeedState:
        """The same figures from sessions already read, so a body and its ETag agree."""
        newest = max((s.updated_at for s in sessions), default=None)
        return cls(len(sessions), newest, sum(s.sequence for s in sessions))


@dataclass(frozen=True)
class FeedScope:
    """Whose confirmed sessions, between which times: looked up once, then read twice."""

    program_id: uuid.UUID
    start: datetime
    end: datetime
    supporter_id: uuid.UUID | None = None
    identity_key: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Cancelled bookings are simply absent, so calendars that mirror a feed delete them."""
        if self.supporter_id is not None:
            owner = Booking.supporter_id == self.supporter_id
        else:
            theirs = select(RequesterIdentity.request_id).where(
                RequesterIdentity.lookup_hash == self.identity_key
            )
            owner = Booking.request_id.in_(theirs)
        return [
            Booking.program_id == self.program_id,
            owner,
            Booking.status == "confirmed",
            Booking.ends_at > self.start,
            Booking.starts_at < self.end,
        ]


def supporter_scope(ctx: Ctx, program_id: uuid.UUID, supporter_id: uuid.UUID) -> FeedScope:
    """The supporter's sessions from 30 days ago to the horizon; none once offboarded."""
    _authorize(ctx, program_id, supporter_id)
    found = ctx.session.execute(
        select(Supporter.status, Program.horizon_days)
        .join(Program, Program.id == Supporter.program_id)
        .where(Supporter.id == supporter_id, Supporter.program_id == program_id)
    ).first()
    if found is None or found.status == "offboarded":
        raise NotFound("no such feed")
    return FeedScope(program_id, *_window(ctx, found.horizon_days), supporter_id=supporter_id)


def requester_scope(ctx: Ctx, program_id: uuid.UUID, identity_key: str) -> FeedScope:
    """Every request one identity made in the program (integrations' service principal).

    `identity_key` is `cipher.lookup_hash(platform, subject)`, so a feed can be served
    without ever keeping the subject.
    """
    _authorize(ctx, program_id, None)
    horizon = ctx.session.scalar(select(Program.horizon_days).where(Program.id == program_id))
    if horizon is None:
        raise NotFound("no such feed")
    return FeedScope(program_id, *_window(ctx, horizon), identity_key=identity_key)


def state(ctx: Ctx, scope: FeedScope) -> FeedState:
    """One aggregate: how many sessions, the newest change, the sum of their sequences."""
    _authorize(ctx, scope.program_id, scope.supporter_id)
    row: Any = ctx.session.execute(
        select(
            func.count(),
            func.max(Booking.updated_at),
            func.coalesce(func.sum(Booking.sequence), 0),
        ).where(*scope.conditions())
    ).one()
    return FeedState(sessions=int(row[0]), newest_change=row[1], sequences=int(row[2]))


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


def _window(ctx: Ctx, horizon_days: int) -> tuple[datetime, datetime]:
    return ctx.now - PAST, ctx.now + timedelta(days=horizon_days)
