"""A process answers an unchanged feed from memory while the database's watch says so.

lms.feeds.polls keeps each poll's answer; core.calendar_watch sees every change as it is
committed. The tests of each kind of change are in test_feed_etags.py and test_feeds.py, which
run through this memory; these are about the memory's own bounds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, text

import core.calendar_watch
import lms.feeds.polls
from core.calendar_watch import APPLICATION_NAME, CalendarWatch, NotifiedWatch
from core.clock import FrozenClock
from core.runtime import runtime
from lms.feeds.polls import MAX_AGE
from lms.feeds.web import POLLS
from tests.conftest import postgres_url, reset_postgres
from tests.lms.test_feeds import PUBLIC, THURSDAY, Setting, make_setting


@pytest.fixture
def setting(database_url: str, tmp_path: Any, clock: FrozenClock) -> Iterator[Setting]:
    built = make_setting(database_url, tmp_path, clock, public_url=PUBLIC)
    yield built
    runtime(built.app).engine.dispose()


@pytest.fixture
def on_postgres(tmp_path: Any, clock: FrozenClock) -> Iterator[Setting]:
    url = postgres_url()
    reset_postgres(url)
    built = make_setting(url, tmp_path, clock, public_url=PUBLIC)
    yield built
    runtime(built.app).engine.dispose()


def watch_of(setting: Setting) -> CalendarWatch:
    watch = runtime(setting.app).calendar_watch
    assert watch is not None
    return watch


def statements_for(setting: Setting, url: str, tag: str, *, told: bool = True) -> int:
    """Statements the app ran for one poll of an unchanged feed (a 304).

    `told`: first wait until the watch has heard every change so far (Setting.poll); without
    it the poll goes straight to the app, for a watch that is not listening.
    """
    ran: list[str] = []
    engine = runtime(setting.app).engine

    def count(*args: Any) -> None:
        ran.append(args[2])

    headers = {"If-None-Match": tag}
    event.listen(engine, "before_cursor_execute", count)
    try:
        polled = (
            setting.poll(url, **headers)
            if told
            else setting.client.get(urlsplit(url).path, headers=headers)
        )
        assert polled.status_code == 304
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(ran)


def kept_feed(setting: Setting) -> tuple[str, str]:
    """A supporter's feed with a session, polled once: (url, ETag), its answer kept."""
    setting.book("Ash", THURSDAY + timedelta(hours=10))
    url = setting.supporter_url("Ash")
    tag = setting.poll(url).headers["ETag"]
    assert statements_for(setting, url, tag) == 0, "answered from memory"
    return url, tag


@pytest.mark.postgres
def test_a_lost_listener_trusts_nothing_kept_until_it_listens_again(on_postgres, monkeypatch):
    setting = on_postgres
    monkeypatch.setattr(core.calendar_watch, "RETRY_SECONDS", 0.05)
    url, tag = kept_feed(setting)
    watch = watch_of(setting)
    assert isinstance(watch, NotifiedWatch) and watch.connections == 1
    with runtime(setting.app).engine.connect() as connection:  # a database restart, as it looks
        ended = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid = :pid AND application_name = :name"
            ),
            {"pid": watch.backend_pid, "name": APPLICATION_NAME},
        ).scalars()
        assert list(ended) == [True]
    assert watch.connected(2), "it listens again"
    assert statements_for(setting, url, tag) == 1, "what it heard meanwhile is unknown: read"
    assert statements_for(setting, url, tag) == 0, "and kept again"


@pytest.mark.postgres
def test_a_listener_that_does_not_hear_itself_vouches_for_nothing(on_postgres, monkeypatch):
    """Its own notification, at once and then every HEARTBEAT_SECONDS, must come back to it."""
    setting = on_postgres
    url, tag = kept_feed(setting)
    watch = watch_of(setting)
    assert isinstance(watch, NotifiedWatch) and watch.connections == 1
    monkeypatch.setattr(core.calendar_watch, "RETRY_SECONDS", 0.05)
    monkeypatch.setattr(core.calendar_watch, "HEARTBEAT_SECONDS", 0.0)
    monkeypatch.setattr(core.calendar_watch, "HEARD_WITHIN", 0.0)
    monkeypatch.setattr(core.calendar_watch, "HEARTBEAT_CHANNEL", "nobody_listens_here")
    assert watch.vouching(False), "it gave up on a connection that does not hear itself"

    unheard = [statements_for(setting, url, tag, told=False) for _ in range(2)]
    assert unheard == [1, 1], "a connection that does not hear itself is never trusted"
    monkeypatch.setattr(core.calendar_watch, "HEARTBEAT_CHANNEL", core.calendar_watch.CALENDARS)
    monkeypatch.setattr(core.calendar_watch, "HEARTBEAT_SECONDS", 10.0)
    assert watch.connected(2), "once it hears itself again"
    assert statements_for(setting, url, tag) == 1, "nothing kept from before is trusted"
    assert statements_for(setting, url, tag) == 0


def test_nothing_is_kept_longer_than_max_age(setting):
    url, tag = kept_feed(setting)
    setting.clock.advance(seconds=MAX_AGE.total_seconds() - 1)
    assert statements_for(setting, url, tag) == 0
    setting.clock.advance(seconds=1)
    assert statements_for(setting, url, tag) == 1, "read again, and kept from now"
    assert statements_for(setting, url, tag) == 0


def test_sqlite_counts_any_commit_to_the_file_by_anyone(tmp_path, clock):
    setting = make_setting(f"sqlite:///{tmp_path / 'feeds.sqlite3'}", tmp_path, clock)
    url, tag = kept_feed(setting)
    other = sqlite3.connect(tmp_path / "feeds.sqlite3")  # another process, as SQLite sees it
    with other:
        other.execute("CREATE TABLE unrelated (x INTEGER)")
    other.close()
    assert statements_for(setting, url, tag) == 1, "read again"
    assert statements_for(setting, url, tag) == 0, "and kept from now"
    runtime(setting.app).engine.dispose()


def test_a_revoked_url_gets_no_body_even_before_the_watch_hears(setting, monkeypatch):
    """What is remembered only ever says "not modified"; a body waits for the database."""
    url, _ = kept_feed(setting)
    watch = watch_of(setting)
    monkeypatch.setattr(watch, "unchanged", lambda mark, key: True)  # news not in yet
    with runtime(setting.app).engine.begin() as connection:  # revoked, by anyone, anywhere
        connection.execute(text("DELETE FROM lms_feeds"))
    answer = setting.client.get(urlsplit(url).path)
    assert answer.status_code == 404 and b"BEGIN:VCALENDAR" not in answer.data


def test_past_kept_feeds_everything_kept_is_dropped(setting, monkeypatch):
    monkeypatch.setattr(lms.feeds.polls, "KEPT", 1)
    url, tag = kept_feed(setting)
    birch = setting.supporter_url("Birch")
    assert setting.poll(birch).status_code == 200, "kept in place of Ash's"
    polls = setting.app.extensions[POLLS]
    assert len(polls._kept) == 1
    assert statements_for(setting, url, tag) == 1, "Ash's was dropped: read again"


def test_a_stopped_watch_keeps_nothing(setting):
    url, tag = kept_feed(setting)
    watch_of(setting).stop()
    assert statements_for(setting, url, tag) == 1
    assert statements_for(setting, url, tag) == 1
