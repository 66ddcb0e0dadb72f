"""The Slack Home tab on loopback: the notice, asking, one's own requests, a supporter's panel."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.runtime import runtime
from core.services import requests, roster
from integrations.slack.plugin import init_app
from tests.conftest import make_app
from tests.fakes.slack import FakeSlack, _blocks_refused
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body, system_ctx
from tests.integration.test_deliveries import drain
from tests.slack.test_flow import ASH, ASKER, BIRCH, ask, interaction, slash, submit
from tests.slack.test_wiring import BOT_TOKEN, RESOURCES, SIGNING_SECRET, signed

OTHER = "U0OTHER"
ZONES = {ASKER: "America/New_York", ASH: "Asia/Tokyo"}
NOT_FOUND = "That request could not be found, so nothing was cancelled."
EVENT_IDS = itertools.count(1)


@pytest.fixture(autouse=True)
def _only_our_slack_settings(monkeypatch):
    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def slack():
    with FakeSlack(token=BOT_TOKEN, time_zones=ZONES) as fake:
        yield fake


@pytest.fixture
def world(database_url, tmp_path, clock, monkeypatch, slack):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_PROGRAM", "acme")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    app = make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)])
    world = make_world(
        app,
        app.test_client(),
        crisis_resources=RESOURCES,
        locale="en-GB",
        policy={"offer_batch_size": 2},
    )
    for alias, user in (("Ash", ASH), ("Birch", BIRCH)):
        world.add_supporter(
            alias, weekly=EVERY_WEEKDAY, contacts=[{"platform": "slack", "address": user}]
        )
    yield world
    runtime(app).engine.dispose()


def open_home(world, user: str) -> None:
    """Slack's app_home_opened event, signed; each with a new event id, as Slack sends them."""
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event_id": f"EvHome{next(EVENT_IDS):04d}",
            "event_time": 1_772_614_800,
            "event": {"type": "app_home_opened", "user": user, "channel": "D0", "tab": "home"},
        }
    )
    response = world.client.post("/slack/events", data=body, headers=signed(body))
    assert response.status_code == 200, response.data


def press(world, user: str, action: str, value: str) -> None:
    """A button on the Home tab, as Slack posts it: the value is whatever the client sends."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home"},
        "trigger_id": "trigger-home",
        "actions": [{"action_id": action, "value": value, "type": "button", "block_id": "b"}],
    }
    assert interaction(world.client, payload).status_code == 200


def home_of(slack, user: str) -> dict[str, Any]:
    """The view last published to this user; Slack would have refused a malformed one."""
    views = [c.params["view"] for c in slack.calls("views.publish") if c.params["user_id"] == user]
    assert views, f"no Home tab published to {user}"
    assert not _blocks_refused(views[-1]["blocks"])
    return views[-1]


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def buttons(view: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for block in view["blocks"]:
        for element in [block.get("accessory") or {}, *block.get("elements", [])]:
            if element.get("type") == "button":
                found.setdefault(element["action_id"], []).append(element["value"])
    return found


def stored(world, request_id: str):
    ctx = system_ctx(world.app)
    with ctx.session:
        return requests.view(ctx, requests.get_request(ctx, uuid.UUID(request_id)))


def status_of(world, alias: str) -> str:
    ctx = system_ctx(world.app)
    with ctx.session:
        supporter, _program = roster.get_supporter(ctx, uuid.UUID(world.supporters[alias]["id"]))
        return supporter.status


def ask_again(world, slack, user: str = ASKER):
    """A second /peer: the modal most recently opened, submitted."""
    assert slash(world.client, user).status_code == 200
    view = slack.calls("views.open")[-1].params["view"]
    return submit(
        world.client, view, user, topic="stress", urgency="now", mode="text", language="en"
    )


def book_with_ash(world) -> dict[str, Any]:
    """A scheduled request from the asker's Slack, booked at Ash's first free slot."""
    ash = world.supporters["Ash"]["id"]
    found = world.client.get(f"/api/v1/slots?program=acme&supporter={ash}&mode=text")
    assert found.status_code == 200 and found.json["slots"], found.json
    slot = {"supporter_id": ash, "starts_at": found.json["slots"][0]["starts_at"]}
    body = request_body(
        urgency="scheduled",
        slot=slot,
        requester={"platform": "slack", "subject": ASKER},
        channel="slack",
        note="my private words",
    )
    made = world.client.post("/api/v1/requests", json=body, headers=auth(world.service))
    assert made.status_code == 201, made.json
    return made.json


def local(value: str, zone: str) -> str:
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    return f"{moment:%a} {moment.day} {moment:%b}, {moment:%H:%M}"


# -- the requester's view ------------------------------------------------------------------------


def test_someone_with_no_requests_sees_the_notice_the_resources_and_how_to_ask(world, slack):
    open_home(world, OTHER)
    view = home_of(slack, OTHER)
    text = text_of(view)
    assert view["type"] == "home"
    assert "It is not a crisis or emergency service" in text
    assert "Samaritans" in text and "Call 116 123" in text
    assert "Shout &lt;85258&gt;" in text and "<85258>" not in text, "names are escaped"
    assert buttons(view) == {"home_ask": ["ask"]}
    assert "You have not asked for a chat here yet." in text and "/peer" in text
    assert "Your peer supporter role" not in text, "not on the roster: no supporter panel"
    assert slack.calls("users.info") == [], "no time to show, so Slack is not asked"


def test_after_asking_the_home_shows_the_request_waiting_with_a_cancel_button(world, slack):
    assert ask(world.app, slack, note="rough week").status_code == 200
    open_home(world, ASKER)
    view = home_of(slack, ASKER)
    [request_id] = buttons(view)["home_cancel"]
    alias = stored(world, request_id).alias
    text = text_of(view)
    assert f"*{alias}*: waiting for a supporter" in text
    assert "rough week" not in text, "never the note"
    assert "It is not a crisis or emergency service" in text


def test_cancel_closes_the_request_and_publishes_the_home_again(world, slack):
    ask(world.app, slack)
    drain(world.app)
    open_home(world, ASKER)
    [request_id] = buttons(home_of(slack, ASKER))["home_cancel"]
    alias = stored(world, request_id).alias
    press(world, ASKER, "home_cancel", request_id)
    shown = stored(world, request_id)
    assert (shown.status, shown.outcome) == ("closed", "withdrawn")
    view = home_of(slack, ASKER)
    assert len(slack.calls("views.publish")) == 2, "published again after the button"
    text = text_of(view)
    assert f"Your request *{alias}* is cancelled." in text and f"*{alias}*: closed" in text
    assert "home_cancel" not in buttons(view), "a closed request has no Cancel"
    press(world, ASKER, "home_cancel", request_id)
    assert "That request was already closed." in text_of(home_of(slack, ASKER))


def test_another_slack_user_neither_sees_nor_cancels_someone_elses_request(world, slack):
    ask(world.app, slack, note="rough week")
    drain(world.app)
    open_home(world, ASKER)
    [request_id] = buttons(home_of(slack, ASKER))["home_cancel"]
    alias = stored(world, request_id).alias
    open_home(world, OTHER)
    assert alias not in text_of(home_of(slack, OTHER))
    for intruder in (OTHER, ASH):  # a stranger, and a supporter who was offered it
        for forged in (request_id, str(uuid.uuid4()), "not-a-uuid", ""):
            press(world, intruder, "home_cancel", forged)
            text = text_of(home_of(slack, intruder))
            assert NOT_FOUND in text and alias not in text and "rough week" not in text
    assert stored(world, request_id).status == "offered", "nothing changed"


def test_talk_to_a_peer_opens_the_request_modal_and_the_request_shows_on_the_home(world, slack):
    open_home(world, OTHER)
    press(world, OTHER, "home_ask", "ask")
    [opened] = slack.calls("views.open")
    assert opened.params["trigger_id"] == "trigger-home"
    view = opened.params["view"]
    assert view["callback_id"] == "peer_request" and "not a crisis" in json.dumps(view)
    chosen = {"topic": "grief", "urgency": "now", "mode": "video", "language": "es"}
    assert submit(world.client, view, OTHER, **chosen).json["response_action"] == "update"
    open_home(world, OTHER)
    assert len(buttons(home_of(slack, OTHER))["home_cancel"]) == 1


def test_talk_to_a_peer_where_no_program_is_linked_says_so_rather_than_nothing(
    database_url, tmp_path, clock, monkeypatch, slack
):
    for name, value in (("SLACK_BOT_TOKEN", BOT_TOKEN), ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
                        ("SLACK_PROGRAM", "elsewhere"), ("SLACK_API_URL", slack.url)):  # fmt: skip
        monkeypatch.setenv(name, value)
    app = make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)])
    world = make_world(app, app.test_client(), crisis_resources=RESOURCES)
    press(world, OTHER, "home_ask", "ask")
    [opened] = slack.calls("views.open")
    said = text_of(opened.params["view"])
    assert opened.params["view"]["callback_id"] == "peer_notice"
    assert "not linked to a PeerLine program" in said and "emergency number" in said
    runtime(app).engine.dispose()


def test_talk_to_a_peer_whose_modal_slack_refuses_is_told_on_the_home_tab(world, slack):
    slack.fail("views.open", "expired_trigger_id")
    press(world, OTHER, "home_ask", "ask")
    said = text_of(home_of(slack, OTHER))
    assert "could not be opened" in said and "emergency number" in said


# -- the supporter's view ------------------------------------------------------------------------


def test_a_supporter_pauses_and_is_not_offered_chats_then_resumes(world, slack):
    open_home(world, ASH)
    view = home_of(slack, ASH)
    text = text_of(view)
    assert "You are *available*" in text and buttons(view)["home_pause"] == ["pause"]
    assert "This week: *0* of *" in text and "No sessions booked in the next 14 days." in text
    press(world, ASH, "home_pause", "pause")
    assert status_of(world, "Ash") == "paused"
    view = home_of(slack, ASH)
    assert "You are *paused*" in json.dumps(view) and "home_resume" in buttons(view)
    ask(world.app, slack)
    drain(world.app)
    assert slack.messages_to(ASH) == [] and len(slack.messages_to(BIRCH)) == 1
    press(world, ASH, "home_resume", "resume")
    assert status_of(world, "Ash") == "active"
    assert "home_pause" in buttons(home_of(slack, ASH))
    assert ask_again(world, slack).status_code == 200
    drain(world.app)
    assert len(slack.messages_to(ASH)) == 1, "offered again once available"


def test_someone_not_on_the_roster_cannot_pause_anyone(world, slack):
    for action in ("home_pause", "home_resume"):
        press(world, OTHER, action, world.supporters["Ash"]["id"])
        text = text_of(home_of(slack, OTHER))
        assert "not on this program's supporter roster" in text
        assert "Your peer supporter role" not in text
    assert status_of(world, "Ash") == "active"


def test_a_booked_session_shows_for_both_people_in_their_own_slack_time_zones(world, slack):
    made = book_with_ash(world)
    starts_at = made["booking"]["starts_at"]
    open_home(world, ASH)
    text = text_of(home_of(slack, ASH))
    expected = f"{local(starts_at, 'Asia/Tokyo')}\u2013"
    assert expected in text and "(Asia/Tokyo): text chat with *" + made["alias"] + "*" in text
    assert "This week: *1* of *" in text
    assert ASKER not in text and "my private words" not in text, "the alias only"
    open_home(world, ASKER)
    view = home_of(slack, ASKER)
    text = text_of(view)
    when = local(starts_at, "America/New_York")
    assert f"*{made['alias']}*: scheduled for {when}" in text and "(America/New_York)" in text
    assert buttons(view)["home_cancel"] == [made["id"]]
    assert "my private words" not in text
    press(world, ASKER, "home_cancel", made["id"])
    assert stored(world, made["id"]).booking.status == "cancelled"
    open_home(world, ASH)
    assert "No sessions booked in the next 14 days." in text_of(home_of(slack, ASH))


def test_without_a_slack_time_zone_times_are_in_the_program_zone(world, slack):
    made = book_with_ash(world)
    slack.fail("users.info", "user_not_found")
    open_home(world, ASKER)
    text = text_of(home_of(slack, ASKER))
    assert f"scheduled for {local(made['booking']['starts_at'], 'Europe/London')}" in text
    assert "(Europe/London)" in text


def test_a_supporter_pauses_until_a_date_from_the_home_tab(world, slack):
    open_home(world, ASH)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": ASH},
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home"},
        "trigger_id": "trigger-home",
        "actions": [
            {"action_id": "home_pause_until", "type": "datepicker", "selected_date": "2026-03-09"}
        ],
    }
    assert interaction(world.client, payload).status_code == 200
    assert status_of(world, "Ash") == "paused"
    assert "paused until Monday 9 March" in text_of(home_of(slack, ASH))
    payload["actions"][0]["selected_date"] = "2026-03-01"
    interaction(world.client, payload)
    assert "later date than today" in text_of(home_of(slack, ASH)), "a past date is refused"
