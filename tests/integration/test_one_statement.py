"""core.db.one_statement: one statement that is its own transaction, flushed or not."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from core.runtime import Runtime, runtime
from tests.conftest import make_app

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def claims(database_url, tmp_path, clock) -> Runtime:
    current = runtime(make_app(database_url, tmp_path, clock))
    with current.engine.begin() as connection:
        connection.execute(text("CREATE TABLE claims (id VARCHAR(20) PRIMARY KEY)"))
    return current


def seen_elsewhere(current: Runtime) -> list[str]:
    with current.engine.connect() as other:
        return list(other.execute(text("SELECT id FROM claims ORDER BY id")).scalars())


@pytest.mark.parametrize("flush", [True, False])
def test_the_statement_commits_by_itself(database_url, tmp_path, clock, flush):
    current = claims(database_url, tmp_path, clock)
    with current.one_statement(flush=flush) as connection:
        connection.execute(text("INSERT INTO claims VALUES ('a')"))
        assert seen_elsewhere(current) == ["a"], "committed before anyone called commit"
    with pytest.raises(IntegrityError), current.one_statement(flush=flush) as connection:
        connection.execute(text("INSERT INTO claims VALUES ('b'), ('a')"))
    assert seen_elsewhere(current) == ["a"], "a failed statement left nothing of itself"


def synchronous(connection: Connection) -> int:
    """Read from the driver's connection itself: through SQLAlchemy it would BEGIN IMMEDIATE."""
    return int(connection.connection.dbapi_connection.execute("PRAGMA synchronous").fetchone()[0])


def test_an_unflushed_statement_leaves_every_pooled_connection_flushing(tmp_path, clock):
    current = claims(f"sqlite:///{tmp_path / 'test.sqlite3'}", tmp_path, clock)
    with current.one_statement(flush=False) as connection:
        assert synchronous(connection) == NORMAL, "this statement's commit is not flushed"
        connection.execute(text("INSERT INTO claims VALUES ('a')"))
    with pytest.raises(IntegrityError), current.one_statement(flush=False) as connection:
        connection.execute(text("INSERT INTO claims VALUES ('a')"))
    pooled = [current.engine.connect() for _ in range(3)]  # the pool's own come out first
    try:
        assert [synchronous(c) for c in pooled] == [FULL] * 3, "bookings must stay durable"
    finally:
        for connection in pooled:
            connection.close()
