"""What one running PeerLine holds: settings, database, clock, events, channels."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from core.clock import Clock
from core.config import Settings
from core.crypto import IdentityCipher
from core.db import READ_ONLY, SessionFactory, one_statement, release
from core.events import EventBus
from core.ports import CalendarWriter, NotificationChannel, SignInMethod

if TYPE_CHECKING:
    from flask import Flask

    from core.calendar_watch import CalendarWatch
    from core.jobs import Jobs
    from core.services.access import Ctx


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: SessionFactory
    clock: Clock
    bus: EventBus
    cipher: IdentityCipher
    channels: dict[str, NotificationChannel] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)
    calendar: CalendarWriter | None = None
    sign_in_methods: dict[str, SignInMethod] = field(default_factory=dict)
    jobs: Jobs | None = None
    calendar_watch: CalendarWatch | None = None  # None for SQLite in memory

    def add_channel(self, channel: NotificationChannel) -> None:
        self.channels[channel.name] = channel

    def system_ctx(self, *, read_only: bool = False) -> Ctx:
        """A unit of work acting as the operator: consoles, workers and channels.

        `read_only`: the unit only reads (see core.db.READ_ONLY).
        """
        from core.services.access import SYSTEM, Ctx  # services import the runtime; import late

        options = {READ_ONLY: True} if read_only else {}
        return Ctx(
            session=self.session_factory(execution_options=options),
            principal=SYSTEM,
            now=self.clock.now(),
            cipher=self.cipher,
        )

    def one_statement(self, *, flush: bool = True) -> AbstractContextManager[Connection]:
        """A connection for one statement, which is its own transaction (core.db)."""
        return one_statement(self.engine, flush=flush)


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of the given or current app."""
    target = app if app is not None else current_app
    return target.extensions["peerline"]  # type: ignore[no-any-return]


def db_session() -> Session:
    """The session of the current request, closed when the request ends."""
    if "db_session" not in g:
        g.db_session = runtime().session_factory()
    return g.db_session  # type: ignore[no-any-return]


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        release(session)  # a connection lost with the database is discarded, not raised
