"""Whether anything a feed's poll read has changed since, without asking the database.

A feed's poll (its token, its owner, their calendar version) can be kept by a process and
used again exactly as long as its watch says nothing it depends on changed: `mark` before
the read, `unchanged(mark, key)` at each use. Anything a watch cannot vouch for counts as
changed. There is one watch per database kind (`watch_for`):

- **SQLite** (`FileWatch`): `PRAGMA data_version`, on a read-only connection of the watch's
  own, changes with every commit made to the file by any other connection, in any process.
  Asking costs a few microseconds, no I/O. Any commit at all counts as a change.
- **PostgreSQL** (`NotifiedWatch`): told as changes commit (LISTEN/NOTIFY). Triggers on
  the calendar versions (core.models.calendar) and on what a poll reads notify the channel
  CALENDARS when their transaction commits: `s:<supporter id>` or `r:<lookup hash>` for one
  owner's calendar, `*` for anything that can touch any feed (a supporter's status, a
  program deleted, a feed's token). Each process listens on a connection of its own, on a
  thread of its own, and counts what it hears. Until it listens, while it is not listening
  (the connection lost, the database restarted) and at the moment it listens again, every
  key counts as changed, since notifications sent meanwhile were never heard.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy import URL, Engine

log = logging.getLogger(__name__)

CALENDARS = "peerline_calendars"
"""The channel. Payloads: `s:<supporter id>`, `r:<lookup hash>`, or EVERYTHING."""
EVERYTHING = "*"
KEYS_KEPT = 100_000
"""Keys remembered at most; past that they are forgotten, which counts as all changed."""
RETRY_SECONDS = 2.0
"""How long to wait before listening again after the connection was lost."""
HEARTBEAT_SECONDS = 10.0
"""How often the watch notifies itself, to find a connection that no longer hears."""
HEARD_WITHIN = 5.0
"""How soon it must hear its own notification."""
HEARTBEAT_CHANNEL = CALENDARS
"""Where it sends that notification (the tests send it where it is never heard)."""
APPLICATION_NAME = "peerline calendar watch"
"""How its connections are named in pg_stat_activity."""
_BARRIER = "barrier:"
_HEARTBEAT = "heartbeat:"


SUPPORTER = "s:"
"""A supporter's calendar: SUPPORTER + their id (the triggers of core.models.calendar)."""
REQUESTER = "r:"
"""A requester's calendar: REQUESTER + the lookup hash of their identity."""


def supporter_key(supporter_id: uuid.UUID) -> str:
    return f"{SUPPORTER}{supporter_id}"


def requester_key(lookup_hash: str) -> str:
    return f"{REQUESTER}{lookup_hash}"


class CalendarWatch(Protocol):
    def mark(self) -> int | None:
        """Where things stand now, taken before a read; None while it cannot vouch."""

    def unchanged(self, mark: int, key: str) -> bool:
        """Whether nothing for `key` (nor for every key) changed since `mark`."""

    def caught_up(self, timeout: float = 10.0) -> bool:
        """Whether every change committed before this call is already seen (tests)."""

    @property
    def stopped(self) -> bool: ...

    def stop(self) -> None:
        """From now on it vouches for nothing, and lets go of its connection."""


def watch_for(engine: Engine) -> CalendarWatch | None:
    """The watch of the engine's database; None for SQLite in memory (one connection)."""
    if engine.dialect.name == "postgresql":
        return NotifiedWatch(engine.url)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return FileWatch(Path(database))
    return None


class FileWatch:
    """SQLite: the file's `data_version`, as a connection of the watch's own sees it.

    SQLite changes it for a connection whenever another connection commits to the file,
    whatever the table, and whatever process it is in. The watch's connection is read-only
    and never writes, so every commit counts. Each process opens its own.
    """

    def __init__(self, path: Path) -> None:
        self._uri = f"{path.resolve().as_uri()}?mode=ro"
        self._lock = threading.Lock()
        self._pid = 0
        self._connection: sqlite3.Connection | None = None
        self._opened = 0  # connections opened: each counts data_version its own way
        self._stopped = False

    def mark(self) -> int | None:
        """The connection's number and its data_version: a mark from another never matches."""
        with self._lock:
            if self._stopped:
                return None
            try:
                if self._connection is None or self._pid != os.getpid():
                    self._connection = sqlite3.connect(
                        self._uri, uri=True, check_same_thread=False, isolation_level=None
                    )
                    self._pid = os.getpid()
                    self._opened += 1
                version: int = self._connection.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                self._connection = None
                return None
            return self._opened << 32 | version  # data_version is a 32-bit count

    def unchanged(self, mark: int, key: str) -> bool:
        return self.mark() == mark

    def caught_up(self, timeout: float = 10.0) -> bool:
        return not self._stopped  # a commit is seen by the very next question

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None


class NotifiedWatch:
    """Counts notifications on CALENDARS; `mark` and `unchanged` tell whether a key moved.

    A caller takes a `mark` before it reads, and later asks whether its key is `unchanged`
    since that mark: true only if the watch was listening all along and heard nothing for
    that key, nor for EVERYTHING, after the mark. The listener starts with the first mark
    taken in a process (after a fork, the child starts its own).
    """

    def __init__(self, url: URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._lock = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()
        self._heard = threading.Condition(self._lock)
        self._count = 0  # notifications heard, and losses of hearing: it only ever grows
        self._everything = 0  # the count when everything last changed
        self._changed: dict[str, int] = {}  # the count when each key last changed
        self._listening = False
        self._barriers: set[str] = set()
        self.connections = 0  # times it began to listen in this process
        self.backend_pid = 0  # the server process of its connection (pg_stat_activity)

    def mark(self) -> int | None:
        """Where the watch stands now; None while it cannot vouch for anything."""
        if self._pid != os.getpid():
            self._start()
        return self._count if self._listening else None

    def unchanged(self, mark: int, key: str) -> bool:
        """Whether nothing for `key` (nor for every key) was heard since `mark`."""
        return self._listening and self._everything <= mark and self._changed.get(key, 0) <= mark

    def connected(self, times: int, timeout: float = 10.0) -> bool:
        """Whether it has begun to listen `times` times in this process (waits `timeout`)."""
        with self._heard:
            return self._heard.wait_for(lambda: self.connections >= times, timeout)

    def vouching(self, state: bool = True, timeout: float = 10.0) -> bool:
        """Whether it vouches (or, with False, does not), waiting up to `timeout` for it."""
        with self._heard:
            return self._heard.wait_for(lambda: self._listening is state, timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop listening (the thread ends within a second); marks give None from now on."""
        self._stop.set()
        with self._lock:
            self._listening = False

    def caught_up(self, timeout: float = 10.0) -> bool:
        """Whether it listens and has heard all that was committed before this call.

        Waits (up to `timeout`) for the listener, then sends a notification of its own: as
        PostgreSQL delivers notifications in commit order, once it is heard, so were they.
        For tests, and for anyone who must not be answered from before their own change.
        """
        self.mark()  # starts the listener in this process
        barrier = f"{_BARRIER}{uuid.uuid4()}"
        with self._heard:
            if not self._heard.wait_for(lambda: self._listening, timeout):
                return False
            self._barriers.add(barrier)
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            connection.execute("SELECT pg_notify(%s, %s)", (CALENDARS, barrier))
        with self._heard:
            return self._heard.wait_for(lambda: barrier not in self._barriers, timeout)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()  # a forked child: nothing its parent marked holds here
            self._listening, self._barriers, self.connections = False, set(), 0
            self._everything_changed()
            self._stop = threading.Event()
        thread = threading.Thread(target=self._listen, name="calendar-watch", daemon=True)
        thread.start()

    def _listen(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    application_name=APPLICATION_NAME,
                    keepalives_idle=10,
                    keepalives_interval=5,
                ) as connection:
                    connection.execute(f"LISTEN {CALENDARS}")
                    with self._heard:
                        self._everything_changed()  # what was sent before we listened is lost
                    self._hear(connection, stop)
            except Exception as error:  # whatever it was: listen again
                log.warning("calendar changes not heard (%s); retrying", type(error).__name__)
            finally:
                with self._heard:
                    self._listening = False
                    self._everything_changed()
                    self._heard.notify_all()
            stop.wait(RETRY_SECONDS)

    def _hear(
        self, connection: psycopg.Connection[tuple[object, ...]], stop: threading.Event
    ) -> None:
        """Count what is heard until stopped; raise once the connection no longer hears.

        It notifies the channel itself at once, and vouches for nothing until it has heard
        that: a connection that never hears (a pooler that hands LISTEN and NOTIFY to
        different server connections, say) is never trusted. Then every HEARTBEAT_SECONDS
        it does so again, and must hear it within HEARD_WITHIN, or it raises.
        """
        heartbeat, sent_at = "", time.monotonic() - HEARTBEAT_SECONDS  # the first one now
        while not stop.is_set():
            waited = time.monotonic() - sent_at
            if heartbeat and waited > HEARD_WITHIN:
                raise psycopg.OperationalError("its own notification was not heard")
            if not heartbeat and waited >= HEARTBEAT_SECONDS:
                heartbeat, sent_at = f"{_HEARTBEAT}{uuid.uuid4()}", time.monotonic()
                connection.execute("SELECT pg_notify(%s, %s)", (HEARTBEAT_CHANNEL, heartbeat))
            for notice in connection.notifies(timeout=1.0):
                if notice.payload != heartbeat:
                    self._heard_of(notice.payload)
                    continue
                heartbeat = ""
                if not self._listening:
                    self._vouch(connection, stop)

    def _vouch(
        self, connection: psycopg.Connection[tuple[object, ...]], stop: threading.Event
    ) -> None:
        """It hears: everything heard from now on is all there was."""
        with self._heard:
            self._listening = not stop.is_set()
            self.connections += 1
            self.backend_pid = connection.info.backend_pid
            self._heard.notify_all()

    def _heard_of(self, payload: str) -> None:
        with self._heard:
            if payload.startswith(_HEARTBEAT):
                return  # another process's
            if payload.startswith(_BARRIER):
                self._barriers.discard(payload)
                self._heard.notify_all()
                return
            self._count += 1
            if payload == EVERYTHING or len(self._changed) >= KEYS_KEPT:
                self._everything = self._count
                self._changed.clear()
            else:
                self._changed[payload] = self._count

    def _everything_changed(self) -> None:
        self._count += 1
        self._everything = self._count
        self._changed.clear()
