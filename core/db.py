"""Engine and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

SessionFactory = Callable[..., Session]  # sessionmaker: keyword arguments go to the Session
log = logging.getLogger(__name__)
SERVER_GOING_AWAY = "57P"
"""SQLSTATE class "operator intervention": shutdown, crash, terminated backend, not yet up."""
LOST_MID_TRANSACTION = "Can't reconnect until invalid"
"""SQLAlchemy's words when a session's connection died inside its transaction."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets serialized write transactions and WAL.

    hide_parameters keeps bound values (notes, identities) out of every database error
    message, so an unexpected failure cannot write them into a log.
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            hide_parameters=True,
        )
        _serialize_sqlite(engine, wal=not memory)
        return engine
    engine = create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )
    event.listen(engine, "handle_error", _server_going_away)
    return engine


def _server_going_away(context: ExceptionContext) -> None:
    """A backend terminated by a restart counts as a lost connection, so the pool drops it.

    The driver reports "terminating connection due to administrator command" as an ordinary
    error while the socket still looks open; without this the dead connection went back to
    the pool, and the pool's other connections, just as dead, were not invalidated with it.
    """
    sqlstate = getattr(context.original_exception, "sqlstate", None) or ""
    if sqlstate.startswith(SERVER_GOING_AWAY):
        context.is_disconnect = True


def unavailable(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached now (worth a retry, not a bug)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.PendingRollbackError):  # after an error someone swallowed:
        return LOST_MID_TRANSACTION in str(error)  # only a lost connection, not a failed flush
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


def _serialize_sqlite(engine: Engine, *, wal: bool) -> None:
    """Every SQLite transaction takes the write lock at BEGIN (BEGIN IMMEDIATE).

    Checks such as 'is this slot still free?' then run with no other writer
    between the check and the insert, the SQLite equivalent of a row lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={DURABLE_SYNC}")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(ONE_STATEMENT):
            return  # one statement needs no BEGIN: SQLite runs it as a transaction by itself
        if options.get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a reader: in WAL it never waits for the writer
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "peerline_read_only"
"""An execution option for sessions that only read: on SQLite their transactions do not take
the write lock, so they neither wait for writers nor hold writers up. Such a session must not
write (SQLite would refuse to upgrade it once another writer has committed)."""


ONE_STATEMENT = "peerline_one_statement"
"""An execution option for a connection that runs one statement (see one_statement)."""
DURABLE_SYNC = "FULL"
"""SQLite's flush at every commit (the default, set on each connection to be sure)."""


@contextmanager
def one_statement(engine: Engine, *, flush: bool = True) -> Iterator[Connection]:
    """A connection for one statement, which is its own transaction.

    One statement reads from one snapshot, and commits or fails as a whole, by itself:
    BEGIN and COMMIT or ROLLBACK would be two more round trips (PostgreSQL) or calls
    (SQLite) for nothing. On SQLite a write then takes the file's write lock inside SQLite
    and gives it back before Python runs again: its lock is never held while its thread
    waits for the interpreter, which under load made every other writer wait too. Run one
    statement only: two would be two transactions.

    `flush=False` (SQLite) lets the commit skip its flush to disk (`synchronous=NORMAL`),
    for a record worth less than a flush, such as a claim against replays. It cannot
    corrupt the file, and the write-ahead log is flushed in order, so the next durable
    commit, by any connection, makes it durable too: a power cut can only lose what was
    written after the last durable commit. PostgreSQL needs no such care: it flushes
    concurrent commits together.
    """
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            yield connection.execution_options(isolation_level="AUTOCOMMIT")
            return
        connection.execution_options(**{ONE_STATEMENT: True})
        if flush:
            yield connection
            return
        connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        try:
            yield connection
        finally:
            try:
                connection.exec_driver_sql(f"PRAGMA synchronous={DURABLE_SYNC}")
            except BaseException:
                connection.invalidate()  # never back to the pool with commits unflushed
                raise


def make_session_factory(engine: Engine, info: dict[str, Any] | None = None) -> SessionFactory:
    return sessionmaker(bind=engine, expire_on_commit=False, info=info or {})


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """A session for work outside a request (CLI, worker, plugin threads)."""
    session = factory()
    try:
        yield session
    except BaseException:
        with _lost_connection_ignored(session):
            session.rollback()
        raise
    finally:
        release(session)


def release(session: Session) -> None:
    """Close a session; if its connection died with the database, discard it instead.

    Closing rolls back, and a rollback on a connection the server dropped raises: that must
    neither turn an answered request into a 500 nor put a broken connection back in the pool.
    """
    with _lost_connection_ignored(session):
        session.close()


@contextmanager
def _lost_connection_ignored(session: Session) -> Iterator[None]:
    try:
        yield
    except sa_exc.DBAPIError as error:
        if not unavailable(error):
            raise
        log.warning("database connection lost (%s); discarded", type(error.orig).__name__)
        session.invalidate()
