"""The calendar-feed benchmark's world: a supporter with many sessions, and bare baselines.

Built through the real services (program, supporter, feed URL) plus bulk inserts of requests
and bookings, so the feed reads the same tables and indexes it reads in production.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
from flask import Blueprint, Flask, Response, current_app, request
from flask.testing import FlaskClient
from sqlalchemy import insert, text

from bench.harness import app_settings, reset_postgres
from core import create_app, limits
from core.clock import FrozenClock
from core.migrations import upgrade
from core.models import Booking, SupportRequest
from core.notify.wording import mode_name
from core.plugins import PluginHook, PluginHost
from core.runtime import Runtime, runtime
from core.schemas.programs import ProgramIn
from core.schemas.supporters import SupporterIn
from core.services import feed_data, programs, roster
from core.services.feed_data import FeedSession
from lms import calendar as calendar_module
from lms.feeds import content, tokens
from lms.feeds.web import CACHE
from lms.feeds.web import init_app as init_feeds

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
BARE_TAG = "bench-bare-feed-etag-0123456789ab"  # unquoted, as werkzeug compares it


@dataclass
class World:
    """An app whose one supporter has `count` sessions, and where their feed answers."""

    app: Flask
    client: FlaskClient
    feed_path: str  # /feeds/plf_….ics
    bare_path: str  # /bench/bare/plf_….ics: the same token, no database
    sessions: list[FeedSession]  # what the feed holds, read once, as plain data


def build(database_url: str, folder: Path, count: int) -> World:
    """The app with the LMS feeds plugin, a program, a supporter, `count` sessions, a feed URL."""
    if database_url.startswith("postgresql"):
        reset_postgres(database_url)
    plugins: list[tuple[str, PluginHook]] = [
        ("lms-feeds", init_feeds),
        ("bench-bare", _bare_plugin),
    ]
    app = create_app(app_settings(database_url, folder), clock=FrozenClock(NOW), plugins=plugins)
    current = runtime(app)
    upgrade(current.engine)  # the schema production has: every migration, its indexes
    token = _populate(current, count)
    if database_url.startswith("postgresql"):
        with current.engine.begin() as connection:  # as autovacuum would soon after the load
            connection.execute(text("ANALYZE bookings, support_requests"))
    sessions = _sessions(current, token)
    app.config["BENCH_SESSIONS"] = sessions
    return World(
        app, app.test_client(), f"/feeds/{token}.ics", f"/bench/bare/{token}.ics", sessions
    )


def icalendar_feed(sessions: list[FeedSession]) -> bytes:
    """The baseline: icalendar writes the same events, fields and texts as our feed."""
    calendar = icalendar.Calendar()
    for name, value in (
        ("VERSION", "2.0"),
        ("PRODID", "-//PeerLine//PeerLine//EN"),
        ("METHOD", "PUBLISH"),
        ("CALSCALE", "GREGORIAN"),
        ("X-WR-CALNAME", content.CALENDAR_NAME),
        ("NAME", content.CALENDAR_NAME),
    ):
        calendar.add(name, value)
    calendar.add("REFRESH-INTERVAL", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", timedelta(hours=1))
    for session in sessions:
        calendar.add_component(_icalendar_event(session))
    return bytes(calendar.to_ical())


def ics_feed(sessions: list[FeedSession]) -> bytes:
    """The same feed through the ics package (0.7.2): what lms/calendar.py writes invites with.

    Kept as a figure so the choice of writing feed lines by hand is re-checked on every run.
    """
    events = [content._event(session, True, None) for session in sessions]
    vevents = [calendar_module._vevent(event, "PUBLISH") for event in events]
    return content.WRITER._calendar("PUBLISH", vevents)


def _icalendar_event(session: FeedSession) -> icalendar.Event:
    with_whom = f" with {session.request_alias}"
    event = icalendar.Event()
    event.add("UID", session.uid)
    event.add("SEQUENCE", session.sequence)
    event.add("DTSTAMP", session.updated_at.astimezone(UTC))
    event.add("DTSTART", session.starts_at.astimezone(UTC))
    event.add("DTEND", session.ends_at.astimezone(UTC))
    event.add("SUMMARY", "Peer chat" + with_whom)
    event.add("DESCRIPTION", f"A {mode_name(session.mode)}{with_whom}, booked through PeerLine.")
    event.add("STATUS", "CONFIRMED")
    event.add("CLASS", "PRIVATE")
    return event


def _bare_plugin(host: PluginHost) -> None:
    """The baseline endpoint, installed like a plugin and limited like the real feed."""
    bare = Blueprint("bench_bare", __name__)
    bare.add_url_rule("/bench/bare/<token>.ics", "feed", _bare_feed)
    host.add_blueprint(bare)
    limits.protect(host.app, "bench_bare.feed", "feed")


def _bare_feed(token: str) -> Response:
    """A feed endpoint with no database: 304 on the constant tag, else icalendar's body."""
    if request.if_none_match.contains_weak(BARE_TAG):
        response = Response(status=304)
    else:
        sessions: list[FeedSession] = current_app.config["BENCH_SESSIONS"]
        response = Response(icalendar_feed(sessions), mimetype="text/calendar")
        response.headers["Content-Disposition"] = 'inline; filename="peer-chats.ics"'
    response.set_etag(BARE_TAG)
    response.headers["Cache-Control"] = CACHE
    return response


def _populate(current: Runtime, count: int) -> str:
    """Program and supporter through the services; requests and bookings in bulk inserts."""
    ctx = current.system_ctx()
    with ctx.session:
        program = programs.create_program(
            ctx,
            ProgramIn.model_validate(
                {"slug": "bench", "name": "Bench", "kind": "school", "time_zone": "UTC",
                 "topics": ["stress"], "policy": {"horizon_days": 180}},
            ),
        )  # fmt: skip
        supporter = roster.add_supporter(
            ctx,
            program,
            SupporterIn.model_validate(
                {"alias": "Ash", "time_zone": "UTC", "languages": ["en"], "topics": ["stress"]}
            ),
        )
        requests, bookings = _rows(program.id, supporter.id, count)
        ctx.session.execute(insert(SupportRequest), requests)
        ctx.session.execute(insert(Booking), bookings)
        owner = tokens.Owner(program.id, supporter_id=supporter.id)
        _, token, _ = tokens.issue(current, ctx, owner)
        ctx.session.commit()
    return token


def _rows(
    program_id: uuid.UUID, supporter_id: uuid.UUID, count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sessions every two hours from 29 days ago: some moved (SEQUENCE > 0), text and video."""
    requests, bookings = [], []
    for n in range(count):
        request_id, starts_at = uuid.uuid4(), NOW - timedelta(days=29) + timedelta(hours=2 * n)
        mode = ("video", "text")[n % 2]
        requests.append({
            "id": request_id, "program_id": program_id, "alias": f"Blue Heron {n}",
            "topic": "stress", "urgency": "scheduled", "mode": mode, "language": "en",
            "status": "scheduled", "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
            "channel": "lms", "supporter_id": supporter_id, "excluded_supporter_ids": [],
            "created_at": NOW - timedelta(days=40),
        })  # fmt: skip
        bookings.append({
            "id": uuid.uuid4(), "program_id": program_id, "supporter_id": supporter_id,
            "request_id": request_id, "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=45), "mode": mode, "status": "confirmed",
            "calendar_uid": f"{uuid.uuid4()}@peerline", "sequence": n % 3,
            "created_at": NOW - timedelta(days=40), "updated_at": NOW - timedelta(minutes=n),
        })  # fmt: skip
    return requests, bookings


def _sessions(current: Runtime, token: str) -> list[FeedSession]:
    """The feed's sessions as the endpoint reads them: the plain data both writers start from."""
    ctx = current.system_ctx()
    with current.one_statement() as connection:
        polled = tokens.poll(connection, token, ctx.now)
    assert polled is not None
    with ctx.session:
        return feed_data.sessions(ctx, polled.scope)
