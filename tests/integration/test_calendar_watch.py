"""core.calendar_watch: what a process marked is never trusted in another (gunicorn forks)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from core.calendar_watch import FileWatch, NotifiedWatch, supporter_key
from core.db import make_engine
from tests.conftest import postgres_url


def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on this process looks like a child forked from what ran before."""
    child = os.getpid() + 1
    monkeypatch.setattr(os, "getpid", lambda: child)


def test_a_sqlite_mark_holds_until_a_commit_and_never_in_a_child(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'watched.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    watch = FileWatch(tmp_path / "watched.sqlite3")
    mark = watch.mark()
    assert mark is not None and watch.unchanged(mark, "any") and watch.unchanged(mark, "any")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    assert not watch.unchanged(mark, "any"), "a commit by another connection"
    watch.stop()
    watch = FileWatch(tmp_path / "watched.sqlite3")
    mark = watch.mark()  # its connection's first count
    assert mark is not None
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (2)"))
    forked(monkeypatch)  # a connection of its own, whose count starts where the parent's did
    assert not watch.unchanged(mark, "any"), "no mark of the parent's holds in the child"
    watch.stop()
    engine.dispose()


@pytest.mark.postgres
def test_a_postgresql_mark_is_never_trusted_in_a_child(monkeypatch):
    url = postgres_url()
    watch = NotifiedWatch(make_engine(url).url)
    try:
        assert watch.caught_up()
        mark = watch.mark()
        key = supporter_key(uuid.uuid4())
        assert mark is not None and watch.unchanged(mark, key)
        watch.stop()  # the parent's listener is not in the child
        forked(monkeypatch)
        assert watch.caught_up(), "the child listens on its own"
        assert not watch.unchanged(mark, key), "nothing the parent marked holds"
    finally:
        watch.stop()
