"""Each process keeps what its feed polls found, for as long as PostgreSQL says it holds.

A calendar asks again and again for a feed that rarely changes. The answer to a poll (the
feed, whose calendar it shows and that calendar's version) is kept under the token's digest,
with a mark of the database's core.calendar_watch taken before the database was read. It is
used again only while the watch has seen no change to that calendar, nor to anything that
decides whether the feed still answers (its token, its supporter's status, its program): on
PostgreSQL as told by the database when changes commit, on SQLite no commit to the file at
all. And only on the day it was read, since the window moves at midnight (UTC). Whatever
the watch cannot vouch for is read again. As a last bound, nothing is kept past MAX_AGE.

A remembered answer only ever says "not modified" (a 304): a feed's body is sent only after
the database itself has found its token live. So in the moment between a revocation's commit
and its notification, a revoked URL can be told that what its holder already has is
current, and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.calendar_watch import CalendarWatch
from core.crypto import token_digest
from core.runtime import Runtime
from core.services import feed_data
from lms.feeds import tokens
from lms.feeds.tokens import Polled

MAX_AGE = timedelta(minutes=5)
"""The longest an answer is kept, whatever the watch says: a bound on any fault of its own."""
KEPT = 10_000
"""Answers kept at most per process; past that they are all dropped and read again."""


@dataclass(frozen=True)
class _Kept:
    polled: Polled
    mark: int  # the watch's, taken before the read
    key: str  # whose calendar, as the watch names it
    read_at: datetime


class PollCache:
    """The answers to this process's recent polls, each used again while nothing changed."""

    def __init__(self, watch: CalendarWatch | None) -> None:
        self.watch = watch  # None (SQLite in memory): nothing is kept
        self._kept: dict[str, _Kept] = {}

    def poll(
        self, current: Runtime, token: str, now: datetime, *, remembered: bool = True
    ) -> tuple[Polled | None, bool]:
        """What tokens.poll would answer now, and whether it was remembered rather than read.

        `remembered=False` reads the database whatever is kept (and keeps what it read).
        """
        if tokens.TOKEN_SHAPE.fullmatch(token) is None:
            return None, False  # no connection for what cannot be a token
        if self.watch is None:
            with current.one_statement() as connection:
                return tokens.poll(connection, token, now), False
        digest = token_digest(token)
        kept = self._kept.get(digest)
        if remembered and kept is not None and self._holds(self.watch, kept, now):
            return kept.polled, True
        mark = self.watch.mark()
        with current.one_statement() as connection:
            polled = tokens.poll(connection, token, now)
        if polled is not None and mark is not None:
            if len(self._kept) >= KEPT:
                self._kept.clear()
            self._kept[digest] = _Kept(polled, mark, polled.scope.watch_key, now)
        return polled, False

    @staticmethod
    def _holds(watch: CalendarWatch, kept: _Kept, now: datetime) -> bool:
        return (
            kept.polled.scope.start == feed_data.window_start(now)
            and timedelta(0) <= now - kept.read_at < MAX_AGE
            and watch.unchanged(kept.mark, kept.key)
        )
