"""Canvas calendar sync against a fake Canvas over TLS on loopback: our real requests code runs.

OAuth (connect, refresh, refusal), publishing free times as appointment groups, reservations
polled into named bookings, cancellations both ways, and Canvas's faults through the queue.
"""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import ConfigError
from core.models import Delivery
from core.notify.outbox import outbox_of
from core.runtime import runtime
from core.services import identities, lms_sync_data, programs
from lms.sync import canvas_channels
from lms.sync.canvas import one_round
from lms.sync.plugin import CANVAS_SCOPES, add_calendar_sync, init_sync
from lms.sync.settings import SyncSettings, load_sync_settings
from lms.sync.storage import CANVAS_CONNECTIONS, CANVAS_RESERVATIONS
from tests.conftest import make_app
from tests.fakes.canvas import FakeCanvas
from tests.fakes.channel import RecordingChannel
from tests.fakes.smtp import make_certificates
from tests.helpers import World, auth, make_world, request_body, system_ctx
from tests.helpers import drain_until_quiet as drain

COURSE = "42"
CLIENT_ID, CLIENT_SECRET = "10000000000042", "canvas-secret-never-shown"
STUDENT = "4711"
THU = "2026-03-05"
EVENTS = "/api/v1/calendar_events"


@dataclass
class Stack:
    app: Flask
    world: World
    canvas: FakeCanvas
    http: requests.Session
    chat: RecordingChannel
    clock: FrozenClock


@pytest.fixture
def make_stack(database_url, tmp_path: Path, clock):
    """The app with the Canvas sync wired as the plugin wires it, a fake Canvas behind."""
    with ExitStack() as opened:

        def start(**settings: Any) -> Stack:
            certificates = make_certificates(tmp_path / "tls")
            http = opened.enter_context(requests.Session())
            http.trust_env, http.verify = False, str(certificates.ca_file)
            canvas = opened.enter_context(
                FakeCanvas(
                    certificates=certificates, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
                )
            )
            config = SyncSettings(
                canvas_url=canvas.url,
                canvas_client_id=CLIENT_ID,
                canvas_client_secret=CLIENT_SECRET,
                canvas_course=COURSE,
                **{"canvas_days": 7, **settings},
            )
            chat = RecordingChannel(reaches=lambda n: n.audience != "requester")

            def hook(host):
                add_calendar_sync(host, config, http)

            app = make_app(database_url, tmp_path, clock, plugins=[chat.plugin(), ("sync", hook)])
            opened.callback(runtime(app).engine.dispose)
            world = make_world(
                app,
                app.test_client(),
                kind="school",
                policy={
                    "session_minutes": 60,
                    "buffer_minutes": 0,
                    "slot_step_minutes": 15,
                    "min_notice_minutes": 60,
                },
            )
            world.add_supporter(
                "Ash", weekly=[{"weekday": "thu", "start": "09:00", "end": "13:00"}]
            )
            return Stack(app, world, canvas, http, chat, clock)

        yield start


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack()


@pytest.fixture
def connected(stack) -> Stack:
    connect(stack)
    return stack


def connect(stack: Stack) -> None:
    """An admin connects Canvas: our /connect, Canvas's consent, our /callback."""
    started = stack.world.client.get("/lms/canvas/connect", headers=auth(stack.world.admin))
    assert started.status_code == 302, started.data
    consent = stack.http.get(started.headers["Location"], allow_redirects=False)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["Location"])
    done = stack.world.client.get(f"{back.path}?{back.query}")
    assert done.status_code == 200, done.data


def sync_round(stack: Stack) -> dict[str, int]:
    """The worker's next tick once the poll interval has passed."""
    stack.clock.advance(minutes=5)
    return runtime(stack.app).jobs.tick()


def starts(stack: Stack) -> list[str]:
    return sorted(slot["start_at"] for slot in stack.canvas.all_slots())


def slot_at(stack: Stack, hour: int) -> str:
    wanted = f"{THU}T{hour:02d}:00:00Z"
    return next(str(s["id"]) for s in stack.canvas.all_slots() if s["start_at"] == wanted)


def bookings(stack: Stack, status: str | None = None) -> list[dict[str, Any]]:
    token = stack.world.supporter_token("Ash")
    query = "program=acme" + (f"&status={status}" if status else "")
    found = stack.world.client.get(f"/api/v1/bookings?{query}", headers=auth(token))
    assert found.status_code == 200, found.json
    return found.json


def reserved_and_booked(stack: Stack, hour: int = 10) -> tuple[str, dict[str, Any]]:
    """Publish, a student reserves the slot in Canvas, the next poll books it."""
    runtime(stack.app).jobs.tick()
    reservation = stack.canvas.reserve(slot_at(stack, hour), STUDENT)
    sync_round(stack)
    [booking] = bookings(stack, "confirmed")
    return reservation, booking


def rows(app: Flask, kind: str) -> list[Delivery]:
    with system_ctx(app).session as session:
        return list(session.scalars(select(Delivery).where(Delivery.kind == kind)))


def inbox(stack: Stack) -> list[str]:
    return [m["subject"] for m in stack.canvas.messages]


# -- connecting ------------------------------------------------------------------------------


def test_an_admin_connects_once_and_only_the_encrypted_refresh_token_is_kept(stack):
    started = stack.world.client.get("/lms/canvas/connect", headers=auth(stack.world.admin))
    asked = parse_qs(urlsplit(started.headers["Location"]).query)
    assert started.headers["Location"].startswith(stack.canvas.url + "/login/oauth2/auth?")
    assert asked["client_id"] == [CLIENT_ID] and asked["response_type"] == ["code"]
    assert asked["redirect_uri"] == ["http://localhost/lms/canvas/callback"]
    assert asked["scope"] == [" ".join(CANVAS_SCOPES)]
    connect(stack)
    assert stack.canvas.token_grants == ["authorization_code"]
    [refresh] = stack.canvas._refresh
    with runtime(stack.app).engine.connect() as connection:
        [row] = connection.execute(select(CANVAS_CONNECTIONS)).all()
    assert row.status == "connected" and refresh.encode() not in row.refresh_token
    status = stack.world.client.get("/lms/canvas/status", headers=auth(stack.world.admin))
    assert status.status_code == 200
    assert status.json["connected"] is True and status.json["program"] == "acme"
    assert refresh not in json.dumps(status.json)
    audit = stack.world.client.get("/api/v1/audit?program=acme", headers=auth(stack.world.admin))
    assert "lms.canvas_connected" in json.dumps(audit.json)


def test_only_the_programs_admins_may_connect_and_a_state_is_sealed_and_short_lived(stack):
    client, world = stack.world.client, stack.world
    assert client.get("/lms/canvas/connect").status_code == 401
    assert client.get("/lms/canvas/connect", headers=auth("plt_forged")).status_code == 401
    for token in (world.service, world.supporter_token("Ash")):
        refused = client.get("/lms/canvas/connect", headers=auth(token))
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert client.get("/lms/canvas/status", headers=auth(world.service)).status_code == 403
    forged = client.get("/lms/canvas/callback?code=x&state=not-ours")
    assert forged.status_code == 400 and b"expired or is not valid" in forged.data
    declined = client.get("/lms/canvas/callback?error=access_denied&state=x")
    assert declined.status_code == 400
    started = client.get("/lms/canvas/connect", headers=auth(world.admin))
    consent = stack.http.get(started.headers["Location"], allow_redirects=False)
    back = urlsplit(consent.headers["Location"])
    stack.clock.advance(minutes=11)
    late = client.get(f"{back.path}?{back.query}")
    assert late.status_code == 400
    assert stack.canvas.token_grants == [], "an old state never reaches Canvas"


# -- publishing ------------------------------------------------------------------------------


def test_free_times_become_one_neutral_group_per_supporter_and_week(connected):
    stack = connected
    runtime(stack.app).jobs.tick()
    [group] = stack.canvas.groups.values()
    assert group["title"] == "Peer chat with Ash (week of 2 March 2026)"
    assert group["context_codes"] == [f"course_{COURSE}"]
    assert group["participants_per_appointment"] == 1
    assert group["max_appointments_per_participant"] == 1
    assert group["participant_visibility"] == "private"
    assert group["workflow_state"] == "active", "published"
    assert "not anonymous" in group["description"] and "not a crisis" in group["description"]
    hours = [f"{THU}T{h}:00:00Z" for h in ("09", "10", "11", "12")]
    assert starts(stack) == hours, "hour-long slots that do not overlap"
    assert all(
        s["end_at"][11:13] == str(int(s["start_at"][11:13]) + 1) for s in stack.canvas.all_slots()
    )


def test_each_week_gets_its_own_group(make_stack):
    stack = make_stack(canvas_days=14)
    connect(stack)
    runtime(stack.app).jobs.tick()
    titles = sorted(g["title"] for g in stack.canvas.groups.values())
    assert titles == [
        "Peer chat with Ash (week of 2 March 2026)",
        "Peer chat with Ash (week of 9 March 2026)",
    ]
    assert len(starts(stack)) == 8


def test_publishing_again_changes_nothing_and_follows_availability(connected):
    stack = connected
    runtime(stack.app).jobs.tick()
    sync_round(stack)
    sync_round(stack)
    assert len(stack.canvas.calls("POST", "/api/v1/appointment_groups")) == 1
    assert stack.canvas.calls("PUT") == [] and stack.canvas.calls("DELETE") == []
    changed = stack.world.client.put(
        f"/api/v1/supporters/{stack.world.supporters['Ash']['id']}/availability",
        json={
            "weekly": [
                {"weekday": "thu", "start": "09:00", "end": "11:00"},
                {"weekday": "fri", "start": "14:00", "end": "15:00"},
            ]
        },
        headers=auth(stack.world.admin),
    )
    assert changed.status_code == 200, changed.json
    sync_round(stack)
    assert starts(stack) == [f"{THU}T09:00:00Z", f"{THU}T10:00:00Z", "2026-03-06T14:00:00Z"]
    assert len(stack.canvas.groups) == 1, "Friday is in the same week's group"
    paused = stack.world.client.post(
        f"/api/v1/supporters/{stack.world.supporters['Ash']['id']}/pause",
        headers=auth(stack.world.admin),
    )
    assert paused.status_code == 200, paused.json
    sync_round(stack)
    assert starts(stack) == [], "a paused supporter offers nothing in Canvas"


def test_one_worker_at_a_time_runs_a_round(connected):
    stack = connected
    ctx = system_ctx(stack.app)
    with ctx.session:
        program_id = programs.get_program(ctx, "acme").id
    with one_round(runtime(stack.app).engine, f"lms-canvas:{program_id}") as mine:
        assert mine
        runtime(stack.app).jobs.tick()  # another worker's round, meanwhile
        assert stack.canvas.groups == {}
    sync_round(stack)
    assert len(stack.canvas.groups) == 1


def test_nothing_is_published_until_canvas_is_connected(stack):
    runtime(stack.app).jobs.tick()
    sync_round(stack)
    assert stack.canvas.requests == []


def test_a_group_whose_creation_answer_was_lost_is_found_by_title_not_made_twice(connected):
    stack = connected
    stack.canvas.lose_next_answer(503)
    runtime(stack.app).jobs.tick()
    assert len(stack.canvas.groups) == 1
    sync_round(stack)
    assert len(stack.canvas.groups) == 1
    assert len(stack.canvas.calls("POST", "/api/v1/appointment_groups")) == 1
    [listed] = stack.canvas.calls("GET", "/api/v1/appointment_groups")[:1]
    assert listed.form["scope"] == ["manageable"]
    assert len(starts(stack)) == 4


# -- reservations ----------------------------------------------------------------------------


def test_a_reservation_becomes_a_named_booking_once(connected, caplog):
    stack = connected
    caplog.set_level(logging.INFO)
    reservation, booking = reserved_and_booked(stack)
    assert booking["starts_at"].startswith(f"{THU}T10:00:00")
    ctx = system_ctx(stack.app)
    with ctx.session:
        facts = lms_sync_data.booking_facts(ctx.session, uuid.UUID(booking["id"]))
        assert identities.identity_of(ctx, facts.request_id) == ("canvas", STUDENT)
    with runtime(stack.app).engine.connect() as connection:
        [row] = connection.execute(select(CANVAS_RESERVATIONS)).all()
    assert row.reservation_id == reservation and row.state == "booked"
    assert str(row.booking_id) == booking["id"]
    sync_round(stack)
    sync_round(stack)
    assert len(bookings(stack)) == 1, "a second poll books nothing more"
    drain(stack.app)
    [confirmation] = stack.canvas.messages
    assert confirmation["recipients"] == [STUDENT] and confirmation["group_conversation"] == "false"
    assert confirmation["subject"] == "Your peer chat is booked"
    assert "not a crisis" in confirmation["body"].lower() and "Ash" in confirmation["body"]
    assert "booking_confirmed" in stack.chat.kinds("supporter")
    assert starts(stack).count(f"{THU}T10:00:00Z") == 1, "the reserved slot stays, once"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert STUDENT not in logged and CLIENT_SECRET not in logged


def test_a_reservation_of_a_time_taken_meanwhile_is_released_with_the_reason(connected):
    stack = connected
    runtime(stack.app).jobs.tick()
    taken = stack.world.client.post(
        "/api/v1/requests",
        json=request_body(
            urgency="scheduled",
            mode="video",
            slot={
                "supporter_id": stack.world.supporters["Ash"]["id"],
                "starts_at": f"{THU}T10:00:00Z",
            },
        ),
    )
    assert taken.status_code == 201, taken.json
    reservation = stack.canvas.reserve(slot_at(stack, 10), STUDENT)
    sync_round(stack)
    assert len(bookings(stack)) == 1, "the student's reservation booked nothing"
    assert all(status == "sent" for status in drain(stack.app))
    reason = stack.canvas.cancelled[reservation]
    assert "could not be booked after all" in reason and "not a crisis" in reason.lower()
    assert "Samaritans" in reason or "988" in reason or "Find a Helpline" in reason
    sync_round(stack)
    assert f"{THU}T10:00:00Z" not in starts(stack), "the taken time leaves Canvas"
    sync_round(stack)
    assert len(bookings(stack)) == 1 and list(stack.canvas.cancelled) == [reservation]


def test_a_reservation_deleted_in_canvas_cancels_the_booking(connected):
    stack = connected
    reservation, booking = reserved_and_booked(stack)
    drain(stack.app)
    stack.canvas.unreserve(reservation)
    sync_round(stack)
    [cancelled] = bookings(stack, "cancelled")
    assert cancelled["id"] == booking["id"]
    drain(stack.app)
    assert stack.canvas.calls("DELETE", f"/api/v1/calendar_events/{reservation}") == []
    assert "booking_cancelled" in stack.chat.kinds("supporter")
    assert inbox(stack) == ["Your peer chat is booked", "Peer chat cancelled"]
    assert "You cancelled it" in stack.canvas.messages[-1]["body"]
    sync_round(stack)
    assert f"{THU}T10:00:00Z" in starts(stack), "the time is free again"


def test_a_booking_cancelled_in_peerline_deletes_the_reservation_in_canvas(connected):
    stack = connected
    reservation, booking = reserved_and_booked(stack)
    cancelled = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={},
        headers=auth(stack.world.supporter_token("Ash")),
    )
    assert cancelled.status_code == 200, cancelled.json
    assert all(status == "sent" for status in drain(stack.app))
    assert stack.canvas.cancelled == {reservation: canvas_channels.CANCELLED}
    assert "Peer chat cancelled" in inbox(stack)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.channel == "canvas_calendar" and row.status == "sent"
    sync_round(stack)
    assert bookings(stack, "cancelled")[0]["id"] == booking["id"]
    assert f"{THU}T10:00:00Z" in starts(stack)


def test_a_booking_moved_in_peerline_releases_the_reservation_and_keeps_the_booking(connected):
    stack = connected
    reservation, booking = reserved_and_booked(stack)
    moved = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"starts_at": f"{THU}T12:00:00Z"},
        headers=auth(stack.world.service),
    )
    assert moved.status_code == 200, moved.json
    drain(stack.app)
    assert stack.canvas.cancelled == {reservation: canvas_channels.MOVED}
    assert "Your peer chat has moved" in inbox(stack)
    sync_round(stack)
    [still] = bookings(stack, "confirmed")
    assert still["starts_at"].startswith(f"{THU}T12:00:00")
    assert f"{THU}T12:00:00Z" not in starts(stack) and f"{THU}T10:00:00Z" in starts(stack)


# -- faults ----------------------------------------------------------------------------------


def cancel_in_peerline(stack: Stack, booking: dict[str, Any]) -> None:
    cancelled = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={},
        headers=auth(stack.world.supporter_token("Ash")),
    )
    assert cancelled.status_code == 200, cancelled.json


def test_throttling_is_retried_after_retry_after_and_the_reservation_deleted_once(connected):
    stack = connected
    reservation, booking = reserved_and_booked(stack)
    drain(stack.app)
    cancel_in_peerline(stack, booking)
    stack.canvas.fail_next(429, retry_after="7", path=EVENTS)
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "pending" and row.next_attempt_at == stack.clock.now() + timedelta(
        seconds=7
    )
    stack.clock.advance(seconds=7)
    stack.canvas.throttle_next(path=EVENTS)  # Canvas's own way: 403 "Rate Limit Exceeded"
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "pending" and "slow down" in (row.last_error or "")
    stack.clock.advance(minutes=2)
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "sent" and row.attempts == 3
    assert len(stack.canvas.calls("DELETE", f"/api/v1/calendar_events/{reservation}")) == 3
    assert list(stack.canvas.cancelled) == [reservation]


def test_a_lost_answer_is_retried_and_a_reservation_gone_already_counts_as_deleted(connected):
    stack = connected
    reservation, booking = reserved_and_booked(stack)
    cancel_in_peerline(stack, booking)
    stack.canvas.lose_next_answer(503, path=EVENTS)  # Canvas deleted it, but we heard 503
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "pending" and "HTTP 503" in (row.last_error or "")
    stack.clock.advance(minutes=2)
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "sent"
    assert list(stack.canvas.cancelled) == [reservation], "deleted exactly once"


def test_an_expired_access_token_is_refreshed_once(connected):
    stack = connected
    runtime(stack.app).jobs.tick()
    assert stack.canvas.token_grants == ["authorization_code"]
    stack.clock.advance(minutes=61)  # past the hour: refreshed before use, never a 401
    runtime(stack.app).jobs.tick()
    sync_round(stack)
    assert stack.canvas.token_grants == ["authorization_code", "refresh_token"]
    assert stack.canvas.unauthorized == 0
    stack.canvas.expire_access_tokens()  # Canvas dropped it early: one 401, one refresh
    sync_round(stack)
    assert stack.canvas.token_grants == ["authorization_code", "refresh_token", "refresh_token"]
    assert stack.canvas.unauthorized == 1
    assert len(stack.canvas.groups) == 1 and len(starts(stack)) == 4


def test_a_refused_refresh_is_a_dead_letter_and_a_status_admins_see_without_a_token(connected):
    stack = connected
    reservation, booking = reserved_and_booked(stack)
    drain(stack.app)
    [refresh] = stack.canvas._refresh
    stack.canvas.refuse_refresh = True
    stack.canvas.expire_access_tokens()
    cancel_in_peerline(stack, booking)
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "dead" and row.attempts == 1
    assert "invalid_grant" in row.last_error and "connect Canvas again" in row.last_error
    dead = stack.world.client.get(
        "/api/v1/deliveries/dead?program=acme", headers=auth(stack.world.admin)
    )
    assert dead.status_code == 200
    assert sorted(d["kind"] for d in dead.json) == ["booking_cancelled", "canvas_reservation"]
    assert all("invalid_grant" in d["last_error"] for d in dead.json)
    status = stack.world.client.get("/lms/canvas/status", headers=auth(stack.world.admin))
    assert status.json["connected"] is False and status.json["status"] == "refused"
    assert "invalid_grant" in status.json["detail"]
    everything = json.dumps([dead.json, status.json])
    for secret in (refresh, CLIENT_SECRET, "refresh_token not found"):
        assert secret not in everything
    asked = len(stack.canvas.requests)
    sync_round(stack)
    assert len(stack.canvas.requests) == asked, "no calls until an admin connects again"
    stack.canvas.refuse_refresh = False
    connect(stack)
    assert stack.world.client.get("/lms/canvas/status", headers=auth(stack.world.admin)).json[
        "connected"
    ]
    for letter in dead.json:
        retried = stack.world.client.post(
            f"/api/v1/deliveries/{letter['id']}/retry", headers=auth(stack.world.admin)
        )
        assert retried.status_code in (200, 204), retried.data
    drain(stack.app)
    assert list(stack.canvas.cancelled) == [reservation]


@pytest.mark.parametrize(
    ("status", "words"),
    [(403, "needs to teach the program course"), (400, "Canvas answered HTTP 400")],
)
def test_canvas_refusals_are_dead_letters_with_clear_details(connected, status, words):
    stack = connected
    _reservation, booking = reserved_and_booked(stack)
    cancel_in_peerline(stack, booking)
    stack.canvas.fail_next(status, path=EVENTS)
    drain(stack.app)
    [row] = rows(stack.app, "canvas_reservation")
    assert row.status == "dead" and words in (row.last_error or "")
    assert f"HTTP {status}" in row.last_error


def test_a_canvas_outage_stops_the_round_and_the_next_one_carries_on(connected):
    stack = connected
    stack.canvas.fail_next(503, times=2)
    runtime(stack.app).jobs.tick()
    sync_round(stack)
    assert stack.canvas.groups == {}
    sync_round(stack)
    assert len(stack.canvas.groups) == 1 and len(starts(stack)) == 4


# -- settings and wiring ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LMS_CANVAS_URL": "https://canvas.example.edu"}, "LMS_CANVAS_CLIENT_ID"),
        ({"LMS_CANVAS_URL": "http://canvas.example.edu"}, "LMS_CANVAS_URL"),
        ({"LMS_CANVAS_COURSE": "course_42"}, "LMS_CANVAS_COURSE"),
        ({"LMS_CANVAS_POLL_MINUTES": "0"}, "LMS_CANVAS_POLL_MINUTES"),
    ],
)
def test_canvas_settings_are_checked_at_start_up(monkeypatch, env, named):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named) as raised:
        load_sync_settings()
    for value in env.values():
        assert value not in str(raised.value), "the error names the variable, not its value"


def test_the_sync_is_wired_only_when_canvas_is_configured(
    database_url, tmp_path, clock, monkeypatch
):
    plain = make_app(database_url, tmp_path / "a", clock, plugins=[("sync", init_sync)])
    assert "canvas_calendar" not in runtime(plain).channels
    assert runtime(plain).jobs.plugin_steps == []
    assert outbox_of(runtime(plain).session_factory).routes == []
    for name, value in (
        ("URL", "https://canvas.example.edu"),
        ("CLIENT_ID", CLIENT_ID),
        ("CLIENT_SECRET", CLIENT_SECRET),
        ("COURSE", COURSE),
    ):
        monkeypatch.setenv(f"LMS_CANVAS_{name}", value)
    wired = make_app(database_url, tmp_path / "b", clock, plugins=[("sync", init_sync)])
    assert {"canvas_calendar", "canvas"} <= set(runtime(wired).channels)
    assert [name for name, _ in runtime(wired).jobs.plugin_steps] == ["canvas calendar"]
    assert outbox_of(runtime(wired).session_factory).routes == [canvas_channels.route]
    assert "lms_canvas.connect" in wired.view_functions
    for app in (plain, wired):
        runtime(app).engine.dispose()


def test_week_boundaries_follow_the_program_time_zone_across_dst():
    from zoneinfo import ZoneInfo

    from lms.sync.canvas_slots import week_of

    zone = ZoneInfo("America/New_York")
    start, end = week_of(datetime(2026, 3, 12, 15, tzinfo=UTC), zone)  # DST began on the 8th
    assert start == datetime(2026, 3, 9, 4, tzinfo=UTC) and end == datetime(
        2026, 3, 16, 4, tzinfo=UTC
    )
    start, _ = week_of(datetime(2026, 3, 9, 3, 59, tzinfo=UTC), zone)
    assert start == datetime(2026, 3, 2, 5, tzinfo=UTC)
