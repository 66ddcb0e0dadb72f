"""Shared fixtures: an app on SQLite (always) or PostgreSQL (when configured), a movable clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from core import create_app
from core.clock import FrozenClock
from core.migrations import plugin_schemas
from core.models import Base
from core.plugins import PluginHook
from core.runtime import runtime

PG_ENV = "PEERLINE_TEST_DATABASE_URL"
REDIS_ENV = "PEERLINE_TEST_REDIS_URL"
# Wednesday 2026-03-04 09:00 UTC: a weekday, a few days before US DST starts.
START = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} not set: PostgreSQL tests skipped")
    return url


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using this runs on SQLite and, when configured, PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url = postgres_url()
    reset_postgres(url)
    return url


@pytest.fixture(autouse=True)
def _dispose_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every connection pool a test's apps opened, so none is left to the GC, and stop
    their calendar watches (each listens on a connection of its own)."""
    import core.app
    from core.calendar_watch import CalendarWatch, watch_for
    from core.db import make_engine

    engines: list[Engine] = []
    watches: list[CalendarWatch] = []

    def tracked(url: str) -> Engine:
        engines.append(make_engine(url))
        return engines[-1]

    def tracked_watch(engine: Engine) -> CalendarWatch | None:
        watch = watch_for(engine)
        if watch is not None:
            watches.append(watch)
        return watch

    monkeypatch.setattr(core.app, "make_engine", tracked)
    monkeypatch.setattr(core.app, "watch_for", tracked_watch)
    yield
    for watch in watches:
        watch.stop()
    for engine in engines:
        engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def make_app(
    database_url: str,
    tmp_path: Path,
    clock: FrozenClock,
    plugins: list[tuple[str, PluginHook]] | None = None,
    **settings: Any,
) -> Flask:
    app = create_app(
        {
            "database_url": database_url,
            "env": "testing",
            "instance_path": tmp_path / "instance",
            **settings,
        },
        clock=clock,
        plugins=plugins or [],
    )
    engine = runtime(app).engine
    for metadata in (Base.metadata, *(schema.metadata for schema in plugin_schemas())):
        metadata.create_all(engine)
    return app


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    application = make_app(database_url, tmp_path, clock)
    yield application
    runtime(application).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
