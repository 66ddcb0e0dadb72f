"""Teams meetings and free/busy through Graph: real msal and requests against loopback fakes."""

from __future__ import annotations

import html
import json
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.channels.email_messages import build_message, text_body
from core.errors import ConfigError
from core.models import Delivery, ExternalBusy
from core.notify.outbox import outbox_of
from core.notify.plain import render
from core.runtime import runtime
from integrations.slack import blocks
from integrations.teams.graph import GraphClient, GraphError
from integrations.teams.plugin import add_graph_features
from integrations.teams.settings import TeamsSettings, load_teams_settings
from integrations.teams.storage import MEETINGS
from tests.conftest import make_app
from tests.fakes.channel import RecordingChannel
from tests.fakes.graph import FakeGraph
from tests.helpers import World, auth, make_world, system_ctx
from tests.helpers import drain_until_quiet as drain
from tests.teams.conftest import APP_ID, SECRET, TENANT, entra_on_loopback, tokens_from

ASH, BIRCH = "aad-ash", "aad-birch"
MAILBOXES = {ASH: "ash@acme.example", BIRCH: "birch@acme.example"}
THURSDAY = "from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z"
NOTE, TOPIC = "my private words", "grief"


@dataclass
class Stack:
    app: Flask
    world: World
    graph: FakeGraph
    chat: RecordingChannel


@pytest.fixture
def make_stack(database_url, tmp_path: Path, clock):
    """The app with the Teams Graph features wired as the plugin wires them, fakes behind."""
    with ExitStack() as opened:

        def start(**settings: Any) -> Stack:
            aad, session, certificates = opened.enter_context(entra_on_loopback(tmp_path))
            graph = opened.enter_context(
                FakeGraph(aad, certificates=certificates, mailboxes=MAILBOXES)
            )
            tokens = tokens_from(aad, session)
            client = GraphClient(tokens=tokens, base_url=graph.base_url, session=session)
            config = TeamsSettings(**{"meetings": True, "free_busy": True, **settings})
            chat = RecordingChannel()

            def hook(host):
                add_graph_features(host, config, client)

            app = make_app(
                database_url, tmp_path, clock, plugins=[chat.plugin(), ("teams-graph", hook)]
            )
            opened.callback(runtime(app).engine.dispose)
            world = make_world(
                app,
                app.test_client(),
                policy={"session_minutes": 60, "buffer_minutes": 0, "slot_step_minutes": 15},
            )
            world.add_supporter(
                "Ash",
                weekly=[{"weekday": "thu", "start": "09:00", "end": "13:00"}],
                contacts=[{"platform": "teams", "address": ASH}],
            )
            return Stack(app, world, graph, chat)

        yield start


@pytest.fixture
def stack(make_stack) -> Stack:
    return make_stack()


def ask(stack: Stack, mode: str = "video") -> dict[str, Any]:
    """A scheduled request from someone in Teams, with a topic and a note nobody else may see."""
    body = {
        "program": "acme",
        "topic": TOPIC,
        "urgency": "scheduled",
        "mode": mode,
        "language": "en",
        "note": NOTE,
        "requester": {"platform": "teams", "subject": "aad-asker"},
    }
    response = stack.world.client.post(
        "/api/v1/requests", json=body, headers=auth(stack.world.service)
    )
    assert response.status_code == 201, response.json
    return response.json


def slots(stack: Stack, query: str = THURSDAY) -> list[str]:
    found = stack.world.client.get(f"/api/v1/slots?program=acme&{query}")
    assert found.status_code == 200, found.json
    return [s["starts_at"] for s in found.json["slots"]]


def book(stack: Stack, request: dict[str, Any], at: str = "2026-03-05T10:00:00Z"):
    return stack.world.client.post(
        "/api/v1/bookings",
        headers=auth(request["token"]),
        json={
            "request_id": request["id"],
            "supporter_id": stack.world.supporters["Ash"]["id"],
            "starts_at": at,
        },
    )


def booked(stack: Stack, mode: str = "video") -> tuple[dict[str, Any], dict[str, Any]]:
    request = ask(stack, mode)
    answer = book(stack, request)
    assert answer.status_code == 201, answer.json
    return request, answer.json


def meeting_rows(app: Flask, kind: str = "teams_meeting") -> list[Delivery]:
    with system_ctx(app).session as session:
        return list(session.scalars(select(Delivery).where(Delivery.kind == kind)))


def test_a_video_booking_gets_one_neutral_teams_meeting_and_both_sides_the_link(stack):
    request, booking = booked(stack)
    assert all(status == "sent" for status in drain(stack.app))
    [post] = stack.graph.calls("POST", "/events")
    assert post.path == f"/users/{ASH}/events"
    event = post.body
    assert event["subject"] == "Peer chat"
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["attendees"] == [] and event["sensitivity"] == "private"
    assert event["start"] == {"dateTime": "2026-03-05T10:00:00", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2026-03-05T11:00:00", "timeZone": "UTC"}
    sent_to_graph = json.dumps([r.body for r in stack.graph.requests])
    for secret in (NOTE, TOPIC, request["alias"], "Ash", "aad-asker"):
        assert secret not in sent_to_graph
    [row] = meeting_rows(stack.app)
    assert row.channel == "teams_calendar" and row.status == "sent"
    assert NOTE not in json.dumps(row.data) and TOPIC not in json.dumps(row.data)
    assert "teams_meeting" not in stack.chat.kinds(), "no chat channel renders calendar work"
    links = {n.audience: n for n in stack.chat.sent if n.kind == "session_link"}
    [event_made] = stack.graph.events[ASH].values()
    join = event_made["onlineMeeting"]["joinUrl"]
    assert set(links) == {"requester", "supporter"}
    assert {n.data["join_url"] for n in links.values()} == {join}
    assert links["requester"].data["other_alias"] == "Ash"
    assert links["supporter"].data["other_alias"] == request["alias"]
    for_requester = text_body(links["requester"], render(links["requester"]))
    assert join in for_requester and "not a crisis" in for_requester.lower()
    assert "private browser window" in for_requester
    text, _blocks = blocks.render(links["requester"])
    assert "Join the video call" in text and "not a crisis" in text.lower()
    assert booking["mode"] == "video"


def test_the_link_email_carries_the_link_and_a_requester_the_crisis_resources(stack, clock):
    booked(stack)
    drain(stack.app)
    for link in (n for n in stack.chat.sent if n.kind == "session_link"):
        message = build_message(link, sender="p@acme.example", recipient="x@y", now=clock.now())
        text = message.get_body(("plain",)).get_content()
        page = message.get_body(("html",)).get_content()
        url = link.data["join_url"]
        assert message["Subject"] == "Your link for the peer chat"
        assert url in text and html.escape(url) in page
        assert ("not a crisis" in text.lower()) == (link.audience == "requester")
    bad = replace(link, data={**link.data, "join_url": "javascript:alert(1)"})
    with pytest.raises(ValueError, match="https"):
        render(bad)


def test_the_join_link_is_forgotten_once_sent(stack):
    booked(stack)
    drain(stack.app)
    for row in meeting_rows(stack.app, "session_link"):
        assert row.status == "sent" and "join_url" not in row.data


def test_graph_throttling_is_retried_after_retry_after_and_makes_one_event(stack, clock):
    booked(stack)
    stack.graph.fail_next(429, retry_after="7")
    drain(stack.app)
    [row] = meeting_rows(stack.app)
    assert row.status == "pending" and row.next_attempt_at == clock.now() + timedelta(seconds=7)
    clock.advance(seconds=7)
    drain(stack.app)
    assert len(stack.graph.events[ASH]) == 1
    assert [n.audience for n in stack.chat.sent if n.kind == "session_link"].count("requester") == 1


def test_a_lost_answer_is_retried_with_the_same_transaction_id_and_makes_one_event(stack, clock):
    booked(stack)
    stack.graph.lose_next_answer(503)  # Graph made the event, but we heard 503
    drain(stack.app)
    assert len(stack.graph.events[ASH]) == 1
    [row] = meeting_rows(stack.app)
    assert row.status == "pending" and "503" in (row.last_error or "")
    clock.advance(minutes=2)
    drain(stack.app)
    first, second = stack.graph.calls("POST", "/events")
    assert first.body["transactionId"] == second.body["transactionId"]
    assert len(stack.graph.events[ASH]) == 1, "the retry got the first event back"
    assert meeting_rows(stack.app)[0].status == "sent"
    assert [n.kind for n in stack.chat.sent].count("session_link") == 2


def test_a_join_link_that_comes_late_is_fetched(stack):
    stack.graph.join_url_later = True
    booked(stack)
    drain(stack.app)
    assert len(stack.graph.calls("GET", "/events/AAMkAD1/x+y=")) == 1
    assert [n.kind for n in stack.chat.sent].count("session_link") == 2


def test_rescheduling_moves_the_same_event_and_cancelling_deletes_it(stack):
    request, booking = booked(stack)
    drain(stack.app)
    moved = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        headers=auth(request["token"]),
        json={"starts_at": "2026-03-05T11:00:00Z"},
    )
    assert moved.status_code == 200, moved.json
    drain(stack.app)
    [patch] = stack.graph.calls("PATCH")
    assert patch.body == {
        "start": {"dateTime": "2026-03-05T11:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-05T12:00:00", "timeZone": "UTC"},
    }
    [event] = stack.graph.events[ASH].values()
    assert event["start"]["dateTime"] == "2026-03-05T11:00:00"
    assert len(stack.graph.calls("POST", "/events")) == 1
    assert [n.kind for n in stack.chat.sent].count("session_link") == 2, "same link, not resent"
    cancelled = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=auth(request["token"]), json={}
    )
    assert cancelled.status_code == 200, cancelled.json
    drain(stack.app)
    assert len(stack.graph.calls("DELETE")) == 1 and stack.graph.events[ASH] == {}
    with runtime(stack.app).engine.connect() as connection:
        assert connection.execute(select(MEETINGS)).all() == []
    assert all(row.status == "sent" for row in meeting_rows(stack.app))


def test_moving_the_session_to_another_supporter_moves_the_meeting_to_their_calendar(stack):
    request, booking = booked(stack)
    drain(stack.app)
    birch = stack.world.add_supporter(
        "Birch",
        weekly=[{"weekday": "thu", "start": "09:00", "end": "13:00"}],
        contacts=[{"platform": "teams", "address": BIRCH}],
    )
    moved = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        headers=auth(request["token"]),
        json={"starts_at": "2026-03-05T12:00:00Z", "supporter_id": birch["id"]},
    )
    assert moved.status_code == 200, moved.json
    drain(stack.app)
    assert stack.graph.events[ASH] == {}
    [event] = stack.graph.events[BIRCH].values()
    assert event["start"]["dateTime"] == "2026-03-05T12:00:00" and event["attendees"] == []
    links = [n for n in stack.chat.sent if n.kind == "session_link"]
    assert len(links) == 4 and links[-1].data["join_url"] == event["onlineMeeting"]["joinUrl"]
    assert {n.data["other_alias"] for n in links[2:] if n.audience == "requester"} == {"Birch"}


def test_offboarding_deletes_the_meeting_though_the_contact_is_gone(stack):
    booked(stack)
    drain(stack.app)
    supporter = stack.world.supporters["Ash"]["id"]
    gone = stack.world.client.post(
        f"/api/v1/supporters/{supporter}/offboard", headers=auth(stack.world.admin)
    )
    assert gone.status_code == 200, gone.json
    drain(stack.app)
    assert stack.graph.events[ASH] == {}


def test_text_bookings_and_supporters_without_teams_make_no_meeting(stack):
    booked(stack, mode="text")
    drain(stack.app)
    stack.world.add_supporter(
        "Birch", weekly=[{"weekday": "fri", "start": "09:00", "end": "12:00"}]
    )
    request = ask(stack)
    answer = stack.world.client.post(
        "/api/v1/bookings",
        headers=auth(request["token"]),
        json={
            "request_id": request["id"],
            "supporter_id": stack.world.supporters["Birch"]["id"],
            "starts_at": "2026-03-06T09:00:00Z",
        },
    )
    assert answer.status_code == 201, answer.json
    drain(stack.app)
    assert stack.graph.requests == [] and meeting_rows(stack.app) == []


def test_with_meetings_off_nothing_reaches_graph(make_stack):
    stack = make_stack(meetings=False, free_busy=False)
    booked(stack)
    assert all(status == "sent" for status in drain(stack.app))
    runtime(stack.app).jobs.tick()
    assert stack.graph.requests == [] and meeting_rows(stack.app) == []
    assert "booking_confirmed" in stack.chat.kinds()


def test_a_refused_token_is_a_dead_letter_naming_the_status_not_the_secret(stack):
    booked(stack)
    stack.graph.fail_next(403)
    drain(stack.app)
    [row] = meeting_rows(stack.app)
    assert row.status == "dead" and "403" in (row.last_error or "")
    assert SECRET not in (row.last_error or "")


# -- free/busy -------------------------------------------------------------------------------


def busy_item(start: str, end: str, subject: str, status: str = "busy") -> dict[str, Any]:
    return {
        "status": status,
        "subject": subject,
        "location": "Room 4",
        "start": {"dateTime": f"{start}.0000000", "timeZone": "UTC"},
        "end": {"dateTime": f"{end}.0000000", "timeZone": "UTC"},
    }


def test_free_busy_takes_a_busy_hour_off_the_slots_and_it_cannot_be_booked(stack):
    assert "2026-03-05T10:00:00Z" in slots(stack)
    stack.graph.schedule[ASH] = [
        busy_item("2026-03-05T10:00:00", "2026-03-05T11:00:00", "Dentist"),
        busy_item("2026-03-05T12:00:00", "2026-03-05T13:00:00", "Lunch", status="free"),
    ]
    runtime(stack.app).jobs.tick()
    asked = len(stack.graph.requests)
    found = slots(stack)
    assert len(stack.graph.requests) == asked, "slot search never calls Graph"
    assert not [s for s in found if "T09:15" <= s[10:16] <= "T10:45"]
    assert "2026-03-05T09:00:00Z" in found and "2026-03-05T11:00:00Z" in found
    assert "2026-03-05T12:00:00Z" in found, "free time stays bookable"
    refused = book(stack, ask(stack), "2026-03-05T10:00:00Z")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "slot_unavailable"
    with system_ctx(stack.app).session as session:
        stored = session.scalars(select(ExternalBusy)).all()
    assert [(b.starts_at.hour, b.ends_at.hour, b.source) for b in stored] == [(10, 11, "teams")]
    [schedule] = stack.graph.calls("POST", "/calendar/getSchedule")
    assert schedule.body["schedules"] == ["ash@acme.example"]


def test_our_own_meeting_in_the_calendar_does_not_block_moving_the_session(stack):
    request, booking = booked(stack)
    drain(stack.app)
    runtime(stack.app).jobs.tick()  # getSchedule now shows our "Peer chat" at 10:00 as busy
    moved = stack.world.client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        headers=auth(request["token"]),
        json={"starts_at": "2026-03-05T10:30:00Z"},
    )
    assert moved.status_code == 200, moved.json


def test_free_busy_is_read_every_few_minutes_and_stale_times_stop_counting(stack, clock):
    week_on = "from=2026-03-12T00:00:00Z&to=2026-03-13T00:00:00Z"
    stack.graph.schedule[ASH] = [busy_item("2026-03-12T10:00:00", "2026-03-12T11:00:00", "x")]
    jobs = runtime(stack.app).jobs
    jobs.tick()
    jobs.tick()
    assert len(stack.graph.calls("POST", "/calendar/getSchedule")) == 1
    clock.advance(minutes=15)
    jobs.tick()
    assert len(stack.graph.calls("POST", "/calendar/getSchedule")) == 2
    assert "2026-03-12T10:00:00Z" not in slots(stack, week_on)
    stack.graph.fail_next(503, times=5)  # Graph down: nothing fresh comes for a day
    clock.advance(hours=25)
    jobs.tick()
    assert "2026-03-12T10:00:00Z" in slots(stack, week_on), "day-old busy times stop counting"


# -- wiring and settings -----------------------------------------------------------------------


def test_the_plugin_adds_meetings_and_free_busy_only_when_asked(
    database_url, tmp_path, clock, monkeypatch
):
    from integrations.teams import meetings
    from integrations.teams.plugin import init_app

    for name, value in (("APP_ID", APP_ID), ("APP_PASSWORD", SECRET), ("TENANT_ID", TENANT)):
        monkeypatch.setenv(f"TEAMS_{name}", value)
    plain = make_app(database_url, tmp_path / "a", clock, plugins=[("teams", init_app)])
    assert "teams_calendar" not in runtime(plain).channels
    assert runtime(plain).jobs.plugin_steps == []
    assert outbox_of(runtime(plain).session_factory).routes == []
    monkeypatch.setenv("TEAMS_MEETINGS", "true")
    monkeypatch.setenv("TEAMS_FREE_BUSY", "true")
    both = make_app(database_url, tmp_path / "b", clock, plugins=[("teams", init_app)])
    assert "teams_calendar" in runtime(both).channels
    assert [name for name, _ in runtime(both).jobs.plugin_steps] == ["teams free/busy"]
    assert outbox_of(runtime(both).session_factory).routes == [meetings.route]
    for app in (plain, both):
        runtime(app).engine.dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TEAMS_GRAPH_URL", "http://graph.example.com/v1.0"),
        ("TEAMS_GRAPH_URL", "http://localhost.example.com/v1.0"),
        ("TEAMS_AUTHORITY_HOST", "ftp://login.example.com"),
        ("TEAMS_FREE_BUSY_MINUTES", "1"),
    ],
)
def test_graph_settings_are_checked_at_start_up(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_teams_settings()


def test_an_unreachable_graph_is_retried_and_a_missing_user_is_not(tmp_path):
    with (
        entra_on_loopback(tmp_path) as (aad, session, certificates),
        FakeGraph(aad, certificates=certificates, mailboxes=MAILBOXES) as graph,
    ):
        tokens = tokens_from(aad, session)
        nowhere = GraphClient(tokens=tokens, base_url="https://127.0.0.1:9/v1.0", session=session)
        with pytest.raises(GraphError) as unreachable:
            nowhere.delete_event(ASH, "AAMk1")
        assert not unreachable.value.permanent
        client = GraphClient(tokens=tokens, base_url=graph.base_url, session=session)
        with pytest.raises(GraphError) as missing:
            client.create_event("aad-nobody", {"subject": "Peer chat"})
        assert missing.value.permanent and "404" in missing.value.reason
        client.delete_event(ASH, "AAMk-already-gone")  # 404 on delete: nothing left to do
