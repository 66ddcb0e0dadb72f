"""Moodle calendar events for Moodle students' bookings, against a fake Moodle over TLS."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import ConfigError
from core.models import Delivery
from core.notify.outbox import outbox_of
from core.runtime import runtime
from core.services import lms_sync_data
from lms.sync.moodle import MoodleRoute
from lms.sync.plugin import add_calendar_sync, init_sync
from lms.sync.settings import SyncSettings, load_sync_settings
from lms.sync.storage import MOODLE_EVENTS
from tests.conftest import make_app
from tests.fakes.channel import RecordingChannel
from tests.fakes.moodle import FakeMoodle
from tests.fakes.smtp import make_certificates
from tests.helpers import World, auth, make_world, request_body, system_ctx
from tests.helpers import drain_until_quiet as drain

TOKEN = "moodle-wstoken-never-shown"
THU_10 = datetime(2026, 3, 5, 10, tzinfo=UTC)
CREATE = "core_calendar_create_calendar_events"
DELETE = "core_calendar_delete_calendar_events"


@dataclass
class Stack:
    app: Flask
    world: World
    moodle: FakeMoodle
    chat: RecordingChannel
    clock: FrozenClock


@pytest.fixture
def make_stack(database_url, tmp_path: Path, clock):
    with ExitStack() as opened:

        def start(token: str = TOKEN) -> Stack:
            certificates = make_certificates(tmp_path / "tls")
            http = opened.enter_context(requests.Session())
            http.trust_env, http.verify = False, str(certificates.ca_file)
            moodle = opened.enter_context(FakeMoodle(certificates=certificates, token=TOKEN))
            config = SyncSettings(moodle_url=moodle.url + "/", moodle_token=token)
            chat = RecordingChannel()

            def hook(host):
                add_calendar_sync(host, config, http)

            app = make_app(database_url, tmp_path, clock, plugins=[chat.plugin(), ("sync", hook)])
            opened.callback(runtime(app).engine.dispose)
            world = make_world(
                app,
                app.test_client(),
                kind="school",
                policy={"session_minutes": 60, "buffer_minutes": 0, "min_notice_minutes": 60},
            )
            world.add_supporter(
                "Ash", weekly=[{"weekday": "thu", "start": "09:00", "end": "13:00"}]
            )
            return Stack(app, world, moodle, chat, clock)

        yield start


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack()


def book(stack: Stack, subject: str | None = None, at: datetime = THU_10) -> uuid.UUID:
    """A booking by a student who launched from this Moodle (as the LTI booking page makes)."""
    ctx = system_ctx(stack.app)
    slot = lms_sync_data.NamedSlot(
        program="acme",
        supporter_id=uuid.UUID(stack.world.supporters["Ash"]["id"]),
        starts_at=at,
        topic="grief",
        mode="video",
        language="en",
    )
    with ctx.session:
        return lms_sync_data.book_named(
            ctx, slot, platform="lti", subject=subject or f"{stack.moodle.url} 17"
        )


def rows(app: Flask) -> list[Delivery]:
    with system_ctx(app).session as session:
        return list(session.scalars(select(Delivery).where(Delivery.kind == "moodle_event")))


def recorded(app: Flask) -> list[Any]:
    with runtime(app).engine.connect() as connection:
        return connection.execute(select(MOODLE_EVENTS)).all()


def change(stack: Stack, booking_id: uuid.UUID, action: str, **body: Any) -> None:
    answer = stack.world.client.post(
        f"/api/v1/bookings/{booking_id}/{action}", json=body, headers=auth(stack.world.service)
    )
    assert answer.status_code == 200, answer.json


def test_a_moodle_students_booking_becomes_one_neutral_calendar_event(stack):
    book(stack)
    assert all(status == "sent" for status in drain(stack.app))
    [call] = stack.moodle.calls(CREATE)
    assert call.params["events[0][name]"] == "Peer chat"
    assert call.params["events[0][eventtype]"] == "user"
    assert call.params["events[0][timestart]"] == str(int(THU_10.timestamp()))
    assert call.params["events[0][timeduration]"] == "3600"
    assert call.params["moodlewsrestformat"] == "json"
    sent = json.dumps([r.params for r in stack.moodle.requests])
    for secret in ("grief", "Ash", " 17", TOKEN):
        assert secret not in sent, "no topic, alias or identity; the token goes in the form only"
    [event] = stack.moodle.events.values()
    [row] = recorded(stack.app)
    assert row.event_id == str(event["id"]) and row.sequence == 0
    [delivery] = rows(stack.app)
    assert delivery.channel == "moodle_calendar" and delivery.status == "sent"
    assert "moodle_event" not in stack.chat.kinds(), "no chat channel renders calendar work"


def test_moving_a_booking_deletes_and_recreates_the_event_and_cancelling_deletes_it(stack):
    booking = book(stack)
    drain(stack.app)
    [first] = stack.moodle.events
    change(stack, booking, "reschedule", starts_at="2026-03-05T12:00:00Z")
    drain(stack.app)
    assert [c.params["events[0][eventid]"] for c in stack.moodle.calls(DELETE)] == [str(first)]
    [moved] = stack.moodle.events.values()
    assert moved["timestart"] == int(datetime(2026, 3, 5, 12, tzinfo=UTC).timestamp())
    assert recorded(stack.app)[0].sequence == 1
    change(stack, booking, "cancel")
    drain(stack.app)
    assert stack.moodle.events == {} and recorded(stack.app) == []
    assert all(row.status == "sent" for row in rows(stack.app))


def test_only_this_moodles_students_get_events(stack):
    book(stack, subject="https://canvas.example.edu 17")
    anonymous = stack.world.client.post(
        "/api/v1/requests",
        json=request_body(
            urgency="scheduled",
            mode="video",
            slot={
                "supporter_id": stack.world.supporters["Ash"]["id"],
                "starts_at": "2026-03-05T12:00:00Z",
            },
        ),
    )
    assert anonymous.status_code == 201, anonymous.json
    drain(stack.app)
    assert rows(stack.app) == [] and stack.moodle.requests == []


def test_a_5xx_or_429_is_retried_through_the_queue_and_the_event_made_once(stack):
    book(stack)
    stack.moodle.fail_next(429, retry_after="9")
    drain(stack.app)
    [row] = rows(stack.app)
    assert row.status == "pending" and row.next_attempt_at == stack.clock.now() + timedelta(
        seconds=9
    )
    stack.clock.advance(seconds=9)
    stack.moodle.fail_next(503)
    drain(stack.app)
    assert rows(stack.app)[0].status == "pending" and "HTTP 503" in rows(stack.app)[0].last_error
    stack.clock.advance(minutes=2)
    drain(stack.app)
    assert rows(stack.app)[0].status == "sent" and len(stack.moodle.events) == 1


def test_a_lost_answer_finds_the_first_event_instead_of_making_a_second(stack):
    book(stack)
    stack.moodle.lose_next_answer(503)  # Moodle made it, but we heard 503
    drain(stack.app)
    assert len(stack.moodle.events) == 1 and rows(stack.app)[0].status == "pending"
    stack.clock.advance(minutes=2)
    drain(stack.app)
    assert len(stack.moodle.events) == 1 and len(stack.moodle.calls(CREATE)) == 1
    assert rows(stack.app)[0].status == "sent"
    [event] = stack.moodle.events
    assert recorded(stack.app)[0].event_id == str(event)


def test_a_cancel_waits_for_a_retried_create_and_then_deletes_it(stack):
    booking = book(stack)
    stack.moodle.fail_next(503)
    drain(stack.app)
    change(stack, booking, "cancel")
    drain(stack.app)
    assert stack.moodle.events == {} and len(stack.moodle.calls(CREATE)) == 1
    stack.clock.advance(minutes=2)
    drain(stack.app)
    assert len(stack.moodle.calls(CREATE)) == 2 and len(stack.moodle.calls(DELETE)) == 1
    assert stack.moodle.events == {} and recorded(stack.app) == []


def test_a_retryable_moodle_exception_is_retried(stack):
    book(stack)
    stack.moodle.fail_next_with("dmlwriteexception")
    drain(stack.app)
    assert rows(stack.app)[0].status == "pending"
    stack.clock.advance(minutes=2)
    drain(stack.app)
    assert rows(stack.app)[0].status == "sent"


@pytest.mark.parametrize(
    ("errorcode", "words"),
    [
        ("accessexception", "add the core_calendar functions"),
        ("nopermissions", "may not manage its calendar"),
        ("somethingnew", "Moodle refused the call (somethingnew)"),
    ],
)
def test_moodle_refusals_are_dead_letters_naming_the_error_code(stack, errorcode, words):
    book(stack)
    stack.moodle.fail_next_with(errorcode)
    drain(stack.app)
    [row] = rows(stack.app)
    assert row.status == "dead" and words in row.last_error


def test_a_wrong_token_is_a_dead_letter_that_never_shows_the_token(make_stack):
    stack = make_stack(token="wrong-token-never-shown")
    book(stack)
    drain(stack.app)
    [row] = rows(stack.app)
    assert row.status == "dead" and "invalidtoken" in row.last_error
    assert "check LMS_MOODLE_TOKEN" in row.last_error
    assert "wrong-token" not in row.last_error and "token not found" not in row.last_error
    dead = stack.world.client.get(
        "/api/v1/deliveries/dead?program=acme", headers=auth(stack.world.admin)
    )
    assert [d["channel"] for d in dead.json] == ["moodle_calendar"]


def test_an_event_already_gone_counts_as_deleted(stack):
    booking = book(stack)
    drain(stack.app)
    stack.moodle.events.clear()  # someone deleted it in Moodle
    change(stack, booking, "cancel")
    drain(stack.app)
    assert all(row.status == "sent" for row in rows(stack.app))


def test_moodle_settings_are_checked_at_start_up(monkeypatch):
    monkeypatch.setenv("LMS_MOODLE_URL", "https://moodle.example.edu")
    with pytest.raises(ConfigError, match="LMS_MOODLE_TOKEN"):
        load_sync_settings()
    monkeypatch.setenv("LMS_MOODLE_TOKEN", "t")
    settings = load_sync_settings()
    assert settings.moodle and not settings.canvas
    assert settings.issuer == "https://moodle.example.edu"
    monkeypatch.setenv("LMS_MOODLE_URL", "ftp://moodle.example.edu")
    with pytest.raises(ConfigError, match="LMS_MOODLE_URL"):
        load_sync_settings()


def test_the_moodle_sync_is_wired_only_when_configured(database_url, tmp_path, clock, monkeypatch):
    plain = make_app(database_url, tmp_path / "a", clock, plugins=[("sync", init_sync)])
    assert "moodle_calendar" not in runtime(plain).channels
    monkeypatch.setenv("LMS_MOODLE_URL", "https://moodle.example.edu")
    monkeypatch.setenv("LMS_MOODLE_TOKEN", TOKEN)
    wired = make_app(database_url, tmp_path / "b", clock, plugins=[("sync", init_sync)])
    assert "moodle_calendar" in runtime(wired).channels
    [route] = outbox_of(runtime(wired).session_factory).routes
    assert isinstance(route, MoodleRoute)
    assert runtime(wired).jobs.plugin_steps == [], "Moodle needs no polling"
    for app in (plain, wired):
        runtime(app).engine.dispose()
