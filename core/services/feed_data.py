"""What a calendar feed shows: one person's confirmed sessions, each read in one query.

A feed is polled often (Moodle, Google, Outlook), so its owner and state (has anything
changed?) are one prepared aggregate, and its sessions a single join: never a query per booking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from core.errors import NotFound
from core.models import Booking, Program, RequesterIdentity, Supporter, SupportRequest
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
    """Whose confirmed sessions, ending after when: looked up once, then read twice.

    The window has no moving far end: a booking is made inside the program's horizon, so
    nothing enters a feed as time passes; sessions only leave it, and that lowers the count.
    """

    program_id: uuid.UUID
    start: datetime
    supporter_id: uuid.UUID | None = None
    identity_key: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Cancelled bookings are simply absent, so calendars that mirror a feed delete them."""
        if self.supporter_id is not None:
            owner = Booking.supporter_id == self.supporter_id
        else:
            owner = Booking.request_id.in_(_requests_of(self.identity_key))
        return [Booking.program_id == self.program_id, owner, *_live(self.start, self.earliest)]

    @property
    def earliest(self) -> datetime:
        return self.start - LONGEST_SESSION

    def parameters(self) -> dict[str, Any]:
        """The bound values of the one-statement state queries below."""
        return {
            "program_id": self.program_id,
            "supporter_id": self.supporter_id,
            "identity_key": self.identity_key,
            "start": self.start,
            "earliest": self.earliest,
        }


def _live(start: Any, earliest: Any) -> list[ColumnElement[bool]]:
    """Confirmed, still ending inside the window; the redundant start bound narrows the index."""
    return [Booking.status == "confirmed", Booking.ends_at > start, Booking.starts_at > earliest]


def _requests_of(identity_key: Any) -> Select[uuid.UUID]:
    return select(RequesterIdentity.request_id).where(RequesterIdentity.lookup_hash == identity_key)


def _state_query(owner: ColumnElement[bool], exists: ColumnElement[Any]) -> Select[Any]:
    """Count, newest change and sequence sum of a feed's sessions, and whether its owner is.

    Built once with bound parameters: an unchanged feed's poll is this one statement.
    """
    return select(
        exists.label("owner"),
        func.count().label("sessions"),
        func.max(Booking.updated_at).label("newest_change"),
        func.coalesce(func.sum(Booking.sequence), 0).label("sequences"),
    ).where(
        Booking.program_id == bindparam("program_id"),
        owner,
        *_live(bindparam("start"), bindparam("earliest")),
    )


_SUPPORTER_STATE = _state_query(
    Booking.supporter_id == bindparam("supporter_id"),
    select(Supporter.status)
    .where(
        Supporter.id == bindparam("supporter_id"), Supporter.program_id == bindparam("program_id")
    )
    .scalar_subquery(),
)
_REQUESTER_STATE = _state_query(
    Booking.request_id.in_(_requests_of(bindparam("identity_key"))),
    select(Program.id).where(Program.id == bindparam("program_id")).scalar_subquery(),
)


def supporter_feed(
    ctx: Ctx, program_id: uuid.UUID, supporter_id: uuid.UUID
) -> tuple[FeedScope, FeedState]:
    """The supporter's sessions from 30 days ago on, and their state; none once offboarded."""
    _authorize(ctx, program_id, supporter_id)
    scope = FeedScope(program_id, ctx.now - PAST, supporter_id=supporter_id)
    row = _state_row(ctx, _SUPPORTER_STATE, scope)
    if row.owner is None or row.owner == "offboarded":
        raise NotFound("no such feed")
    return scope, _state(row)


def requester_feed(
    ctx: Ctx, program_id: uuid.UUID, identity_key: str
) -> tuple[FeedScope, FeedState]:
    """Every request one identity made in the program (integrations' service principal).

    `identity_key` is `cipher.lookup_hash(platform, subject)`, so a feed can be served
    without ever keeping the subject.
    """
    _authorize(ctx, program_id, None)
    scope = FeedScope(program_id, ctx.now - PAST, identity_key=identity_key)
    row = _state_row(ctx, _REQUESTER_STATE, scope)
    if row.owner is None:
        raise NotFound("no such feed")
    return scope, _state(row)


def _state_row(ctx: Ctx, query: Select[Any], scope: FeedScope) -> Any:
    """On the session's connection: a prepared Core statement, none of the ORM's work."""
    return ctx.session.connection().execute(query, scope.parameters()).one()


def _state(row: Any) -> FeedState:
    return FeedState(int(row.sessions), row.newest_change, int(row.sequences))


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
