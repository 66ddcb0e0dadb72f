"""Slack end to end on loopback: /peer, the modal, offers, accept or decline, and the DMs."""

from __future__ import annotations

import itertools
import json
import threading
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from core.runtime import runtime
from integrations.slack.plugin import EXTENSION, init_app
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.fakes.slack import RESPOND, FakeSlack
from tests.helpers import EVERY_WEEKDAY, make_world
from tests.integration.test_deliveries import drain
from tests.slack.test_wiring import BOT_TOKEN, SIGNING_SECRET

ASKER, ASH, BIRCH = "U0ASKER", "U0ASH", "U0BIRCH"
PRESSES = itertools.count()


@pytest.fixture(autouse=True)
def _only_our_slack_settings(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def slack():
    with FakeSlack(token=BOT_TOKEN, time_zones={ASKER: "America/New_York"}) as fake:
        yield fake


@pytest.fixture
def app(database_url, tmp_path, clock, monkeypatch, slack):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_PROGRAM", "acme")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    application = make_app(
        database_url, tmp_path, clock, plugins=[("slack", init_app), ("lms", lms_plugin)]
    )
    world = make_world(application, application.test_client(), policy={"offer_batch_size": 2})
    for alias, user in (("Ash", ASH), ("Birch", BIRCH)):
        world.add_supporter(
            alias, weekly=EVERY_WEEKDAY, contacts=[{"platform": "slack", "address": user}]
        )
    yield application
    runtime(application).engine.dispose()


def send(client, form: dict[str, str]):
    """A form post as Slack sends slash commands and interactions, signed with its real code."""
    body = urlencode(form)
    stamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=stamp, body=body
        ),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return client.post("/slack/events", data=body, headers=headers)


def slash(client, user=ASKER):
    """/peer; once Slack has its 200, waits for what follows it: the modal, or a message."""
    fake = FakeSlack.serving(client.application.extensions[EXTENSION].client.base_url)
    outcomes = ("views.open", RESPOND)
    before = len(fake.calls(outcomes))
    number = next(PRESSES)
    answer = send(
        client,
        {
            "command": "/peer",
            "text": "",
            "user_id": user,
            "team_id": "T0TEAM",
            "trigger_id": "trigger-1",
            "channel_id": "D0",
            "response_url": fake.response_url(str(number)),  # Slack's is new each time
        },
    )
    if answer.status_code == 200:
        fake.wait_for(outcomes, before + 1)
    return answer


def interaction(client, payload: dict):
    # each press is a new request to Slack (its own action_ts), never a byte-identical replay
    stamped = {"action_ts": f"1772614800.{next(PRESSES):06d}", **payload}
    return send(client, {"payload": json.dumps(stamped)})


def submit(client, view: dict, user=ASKER, **chosen):
    values = {}
    for block_id, value in chosen.items():
        element = {"value": value} if block_id == "note" else {"selected_option": {"value": value}}
        values[block_id] = {block_id: element}
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "view": {**view, "id": "V1", "state": {"values": values}},
    }
    return interaction(client, payload)


def click(client, user: str, action: str, message: dict):
    [button] = [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action
    ]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "container": {
            "type": "message",
            "channel_id": f"D{user}",
            "message_ts": message.get("ts", "1700000000.000100"),
        },
        "channel": {"id": f"D{user}"},
        "trigger_id": "trigger-2",
        "actions": [{"action_id": action, "value": button["value"], "type": "button"}],
    }
    return interaction(client, payload)


def ask(app, slack, **chosen):
    client = app.test_client()
    assert slash(client).status_code == 200
    [opened] = slack.calls("views.open")
    view = (
        json.loads(opened.params["view"])
        if isinstance(opened.params["view"], str)
        else (opened.params["view"])
    )
    fields = {"topic": "stress", "urgency": "now", "mode": "text", "language": "en"} | chosen
    return submit(client, view, **fields)


def updates_to(slack, user: str) -> list[str]:
    return [
        c.params.get("text", "")
        for c in slack.calls("chat.update")
        if c.params.get("channel") == f"D{user}"
    ]


def test_slash_command_opens_the_modal_with_the_crisis_resources(app, slack):
    assert slash(app.test_client()).status_code == 200
    [opened] = slack.calls("views.open")
    assert opened.params["trigger_id"] == "trigger-1"
    text = json.dumps(opened.params["view"])
    assert "not a crisis" in text and "stress" in text and "Ash" in text


def test_slack_has_its_200_before_the_modal_is_opened(app, slack):
    """Slack waits 3 s: the answer cannot wait for views.open (here held until released)."""
    slack.stall("views.open")
    assert slash(app.test_client()).status_code == 200
    assert slack.stalled.is_set() and slack.calls(RESPOND) == [], "answered while it hangs"
    slack.release()  # the held call fails (503): the person is told, not left waiting
    [told] = slack.wait_for(RESPOND)
    assert "could not be opened" in told.params["text"]
    assert told.params["response_type"] == "ephemeral", "only the person who typed /peer"


def test_a_modal_slack_refuses_to_open_is_said_to_the_person(app, slack):
    slack.fail("views.open", "expired_trigger_id")
    assert slash(app.test_client()).status_code == 200
    [told] = slack.wait_for(RESPOND)
    assert "could not be opened" in told.params["text"] and "emergency" in told.params["text"]


@pytest.mark.parametrize("program", [None, "gone"], ids=["no program", "a deleted program"])
def test_a_workspace_linked_to_no_program_is_told_so(
    database_url, tmp_path, clock, monkeypatch, slack, program
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    if program:
        monkeypatch.setenv("SLACK_PROGRAM", program)
    application = make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)])
    assert slash(application.test_client()).status_code == 200
    [told] = slack.calls(RESPOND)
    assert "not linked to a PeerLine program" in told.params["text"]
    assert slack.calls("views.open") == []
    runtime(application).engine.dispose()


def test_a_request_from_the_modal_reaches_supporters_who_accept_in_their_dm(app, slack):
    answer = ask(app, slack, note="rough week")
    assert answer.status_code == 200, answer.data
    done = answer.json
    assert done["response_action"] == "update" and "not a crisis" in json.dumps(done["view"])
    drain(app)
    [offer_to_ash] = slack.messages_to(ASH)
    [offer_to_birch] = slack.messages_to(BIRCH)
    assert ASKER not in json.dumps(offer_to_ash) and "rough week" not in json.dumps(offer_to_ash)
    assert click(app.test_client(), ASH, "offer_accept", offer_to_ash).status_code == 200
    assert "You accepted" in updates_to(slack, ASH)[0]
    click(app.test_client(), BIRCH, "offer_accept", offer_to_birch)
    assert "Another supporter took this one" in updates_to(slack, BIRCH)[0]
    drain(app)
    [matched] = [m for m in slack.messages_to(ASKER) if "You have a peer supporter" in m["text"]]
    assert "Ash" in json.dumps(matched) and "not a crisis" in json.dumps(matched).lower()
    assert "U0ASKER" not in json.dumps(slack.messages_to(ASH)), "the supporter never sees who"


def test_concurrent_accepts_in_slack_match_once(app, slack):
    ask(app, slack)
    drain(app)
    cards = {user: slack.messages_to(user)[0] for user in (ASH, BIRCH)}
    gate = threading.Barrier(2)

    def accept(user: str) -> None:
        gate.wait()
        click(app.test_client(), user, "offer_accept", cards[user])

    threads = [threading.Thread(target=accept, args=(u,)) for u in cards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    said = updates_to(slack, ASH) + updates_to(slack, BIRCH)
    assert sum("You accepted" in s for s in said) == 1
    assert sum("took this one" in s for s in said) == 1


def test_decline_moves_the_request_on(app, slack):
    ask(app, slack)
    drain(app)
    click(app.test_client(), ASH, "offer_decline", slack.messages_to(ASH)[0])
    assert "You declined" in updates_to(slack, ASH)[0]


def test_modal_errors_show_in_the_modal_and_store_nothing(app, slack):
    answer = ask(app, slack, note="x" * 2001)
    assert answer.json["response_action"] == "errors" and "note" in answer.json["errors"]
    drain(app)
    assert slack.messages_to(ASH) == []


def test_someone_not_on_the_roster_cannot_take_an_offer(app, slack):
    ask(app, slack)
    drain(app)
    click(app.test_client(), "U0STRANGER", "offer_accept", slack.messages_to(ASH)[0])
    assert "not on this program's supporter roster" in updates_to(slack, "U0STRANGER")[0]


def test_book_a_time_shows_slots_in_the_requesters_zone_and_books_one(app, slack):
    answer = ask(app, slack, urgency="scheduled", mode="video")
    assert answer.json["response_action"] == "update"
    picker = answer.json["view"]
    [slot_block] = [b for b in picker["blocks"] if b.get("block_id") == "slot"]
    assert "America/New_York" in slot_block["label"]["text"]
    first = slot_block["element"]["options"][0]
    assert first["text"]["text"].startswith("Wed 4 Mar, 08:00"), "13:00 UTC in New York"
    booked = submit_slot(app.test_client(), picker, first["value"])
    assert booked.json["response_action"] == "update", booked.json
    assert "booked" in json.dumps(booked.json["view"])
    drain(app)
    for user in (ASKER, ASH):
        assert [u.filename for u in slack.uploads_to(user)] == ["peer-chat.ics"], user
    assert "Ash" in json.dumps(slack.messages_to(ASKER))


def test_a_time_taken_meanwhile_is_an_error_on_the_slot(app, slack):
    picker = ask(app, slack, urgency="scheduled", mode="video").json["view"]
    [slot_block] = [b for b in picker["blocks"] if b.get("block_id") == "slot"]
    value = slot_block["element"]["options"][0]["value"]
    assert submit_slot(app.test_client(), picker, value).json["response_action"] == "update"
    again = submit_slot(app.test_client(), picker, value, user="U0OTHER")
    assert again.json["response_action"] == "errors" and list(again.json["errors"]) == ["slot"]


def submit_slot(client, view: dict, value: str, user=ASKER):
    payload = {
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "view": {
            **view,
            "id": "V2",
            "state": {"values": {"slot": {"slot": {"selected_option": {"value": value}}}}},
        },
    }
    return interaction(client, payload)


def test_without_slack_program_the_only_workplace_program_is_used(
    database_url, tmp_path, clock, monkeypatch, slack
):
    """What `peerline demo` relies on: one workplace program, and /peer works at once."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    application = make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)])
    make_world(application, application.test_client())
    assert slash(application.test_client()).status_code == 200
    assert len(slack.calls("views.open")) == 1
    runtime(application).engine.dispose()


def test_other_offer_cards_turn_to_taken_in_place(app, slack):
    ask(app, slack)
    drain(app)
    [birch_card] = slack.messages_to(BIRCH)
    click(app.test_client(), ASH, "offer_accept", slack.messages_to(ASH)[0])
    drain(app)
    assert slack.messages_to(BIRCH) == [birch_card], "no new message for the other supporter"
    [rewritten] = [c for c in slack.calls("chat.update") if c.params.get("channel") == f"D{BIRCH}"]
    assert "taken" in rewritten.params["text"].lower()
    assert "offer_accept" not in json.dumps(rewritten.params.get("blocks")), "no buttons left"


def test_an_unanswered_offer_times_out_and_the_requester_hears_honestly(app, slack, clock):
    ask(app, slack)
    drain(app)
    clock.advance(minutes=10)  # the program's offer timeout
    jobs = runtime(app).jobs
    assert jobs is not None
    jobs.tick()
    drain(app)
    expired = [c for c in slack.calls("chat.update") if "expired" in c.params["text"].lower()]
    assert sorted(c.params["channel"] for c in expired) == [f"D{ASH}", f"D{BIRCH}"]
    [told] = [m for m in slack.messages_to(ASKER) if "Nobody is free" in m["text"]]
    assert "not a crisis" in json.dumps(told).lower()
