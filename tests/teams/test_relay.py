"""Relayed chats in Teams on loopback: lines both ways, cleaning, the card's reply box, end."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest
from sqlalchemy import select

from core.models import Delivery
from core.services import requests
from integrations.teams import relay_text
from tests.helpers import system_ctx
from tests.integration.test_deliveries import drain
from tests.teams.conftest import (
    CHAT,
    card_of,
    execute,
    from_person,
    introduce,
    post,
    teams_supporters,
)

ASKER_CHAT = CHAT
_ids = itertools.count(1)


def texts(connector, chat: str) -> list[str]:
    return [str(a.get("text") or "") for a in connector.activities.get(chat, [])]


def cards_in(connector, chat: str) -> list[dict]:
    return [card_of(a) for a in connector.activities.get(chat, []) if a.get("attachments")]


def chat_cards(connector, chat: str) -> list[dict]:
    return [c for c in cards_in(connector, chat) if "relay_end" in json.dumps(c)]


def say(app, keys, connector, aad: str, chat: str, text: str, **extra):
    activity = from_person(connector.url, aad, chat, type="message", text=text, **extra)
    activity.setdefault("id", f"1772{next(_ids):09d}")  # Teams activity ids are opaque numbers
    response = post(app, activity, keys.token())
    assert response.status_code == 200
    return response


def press(app, keys, connector, aad: str, chat: str, verb: str, **data):
    response = post(
        app, from_person(connector.url, aad, chat, **execute(verb, **data)), keys.token()
    )
    assert response.status_code == 200
    return response.json["value"]


def talk(app, keys, connector, asker: str = "aad-asker", chat: str = ASKER_CHAT) -> str:
    """A talk-now request from `asker` accepted by Ash in Teams: the chat's request id."""
    if chat not in connector.conversations:
        introduce(app, keys, connector, asker, chat)
    ask = execute("peer_request", topic="stress", mode="text", language="en")
    post(app, from_person(connector.url, asker, chat, **ask), keys.token())
    drain(app)
    offer = next(
        c for c in reversed(cards_in(connector, "a:Ash")) if "offer_accept" in json.dumps(c)
    )
    accept = next(a for a in offer["actions"] if a["verb"] == "offer_accept")
    offer_id = accept["data"]["offer_id"]
    won = press(app, keys, connector, "aad-ash", "a:Ash", "offer_accept", offer_id=offer_id)
    assert "You accepted" in json.dumps(won)
    drain(app)
    end = next(a for a in chat_cards(connector, chat)[-1]["actions"] if a["verb"] == "relay_end")
    return str(end["data"]["request_id"])


def status_of(app, request_id: str) -> str:
    ctx = system_ctx(app)
    with ctx.session:
        return requests.get_request(ctx, uuid.UUID(request_id)).status


def test_accepting_in_teams_starts_a_chat_with_a_card_on_both_sides(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    request_id = talk(app, keys, connector)
    assert status_of(app, request_id) == "in_chat"
    to_ash, to_asker = " ".join(texts(connector, "a:Ash")), " ".join(texts(connector, ASKER_CHAT))
    assert "You are now talking with" in to_ash and "Ash is here to talk with you" in to_asker
    assert "not a crisis" in to_asker.lower() and "aad-asker" not in to_ash
    assert "A Real Name" not in json.dumps(connector.activities["a:Ash"])
    assert chat_cards(connector, "a:Ash") and chat_cards(connector, ASKER_CHAT)


def test_lines_pass_both_ways_cleaned_under_aliases(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    talk(app, keys, connector)
    say(
        app,
        keys,
        connector,
        "aad-asker",
        ASKER_CHAT,
        "<p>hi <at>Jo Bloggs</at>, mail jo@acme.example or see "
        "https://acme.sharepoint.com/personal/jo_bloggs/Documents and https://example.org/help"
        " &amp; 0b2e7f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b</p>",
        attachments=[{"contentType": "application/vnd.microsoft.teams.file.download.info"}],
    )
    drain(app)
    line = texts(connector, "a:Ash")[-1]
    assert line.endswith(relay_text.FILE_NOTE) and ": hi @someone, mail " in line
    for gone in ("Jo Bloggs", "jo@acme.example", "sharepoint", "0b2e7f4a", "<p>", "&amp;"):
        assert gone not in line
    assert "https://example.org/help &" in line
    assert relay_text.FILES_KEPT in texts(connector, ASKER_CHAT)[-1]
    say(app, keys, connector, "aad-ash", "a:Ash", "I'm here. Take your time.")
    drain(app)
    assert texts(connector, ASKER_CHAT)[-1] == "Ash: I'm here. Take your time."


def test_a_retried_activity_is_passed_on_once(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    talk(app, keys, connector)
    for _ in range(2):
        say(app, keys, connector, "aad-asker", ASKER_CHAT, "just once", id="activity-1")
    drain(app)
    assert sum(t.endswith(": just once") for t in texts(connector, "a:Ash")) == 1


def test_someone_not_in_a_chat_gets_the_form_and_nothing_is_passed_on(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    talk(app, keys, connector)
    before = len(connector.activities["a:Ash"])
    introduce(app, keys, connector, "aad-stranger", "a:stranger")
    say(app, keys, connector, "aad-stranger", "a:stranger", "hello?")
    drain(app)
    assert len(connector.activities["a:Ash"]) == before
    assert "peer_request" in json.dumps(connector.activities["a:stranger"][-1])


def test_a_supporter_in_two_chats_uses_each_cards_reply_box(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    first = talk(app, keys, connector)
    second = talk(app, keys, connector, asker="aad-other", chat="a:other")
    say(app, keys, connector, "aad-ash", "a:Ash", "which of you?")
    drain(app)
    assert texts(connector, "a:Ash")[-1] == relay_text.PICK_A_CHAT
    sent = press(
        app, keys, connector, "aad-ash", "a:Ash", "relay_send", request_id=second, reply="hello"
    )
    assert relay_text.SENT in json.dumps(sent) and "relay_end" in json.dumps(sent)
    drain(app)
    assert texts(connector, "a:other")[-1] == "Ash: hello"
    assert not any(t.endswith("hello") for t in texts(connector, ASKER_CHAT))
    stolen = press(
        app, keys, connector, "aad-asker", ASKER_CHAT, "relay_send", request_id=second, reply="x"
    )
    assert relay_text.NOT_RUNNING in json.dumps(stolen), "not their chat: nothing is sent"
    assert status_of(app, first) == status_of(app, second) == "in_chat"


def test_ending_in_teams_tells_both_and_asks_the_requester_for_feedback(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    request_id = talk(app, keys, connector)
    ended = press(app, keys, connector, "aad-asker", ASKER_CHAT, "relay_end", request_id=request_id)
    assert "You ended the chat with Ash" in json.dumps(ended)
    assert status_of(app, request_id) == "closed"
    drain(app)
    assert any("Ash" not in t and "You ended the chat." in t for t in texts(connector, ASKER_CHAT))
    assert any("ended the chat" in t for t in texts(connector, "a:Ash"))
    assert "feedback" in json.dumps(connector.activities[ASKER_CHAT][-1])
    before = len(connector.activities["a:Ash"])
    say(app, keys, connector, "aad-asker", ASKER_CHAT, "are you there?")
    drain(app)
    assert len(connector.activities["a:Ash"]) == before, "after the end nothing is passed on"
    again = press(app, keys, connector, "aad-ash", "a:Ash", "relay_end", request_id=request_id)
    assert relay_text.NOT_RUNNING in json.dumps(again)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("hi <at>Jo</at>", "hi @someone"),
        ("<div>a<br>b</div>", "a\nb"),
        (
            "see https://teams.microsoft.com/l/chat/0/0?users=jo@acme.example",
            f"see {relay_text.TEAMS_LINK}",
        ),
        ("my OneDrive 1drv.ms/u/s!abc", f"my OneDrive {relay_text.TEAMS_LINK}"),
        ("write to jo.bloggs@acme.example", f"write to {relay_text.EMAIL}"),
        ("id 8:orgid:0b2e7f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", f"id {relay_text.AN_ID}"),
        ("https://example.org/help?x=1", "https://example.org/help?x=1"),
        ("1 &lt; 2 &amp; 3", "1 < 2 & 3"),
    ],
)
def test_clean(raw, clean):
    assert relay_text.clean(raw) == clean


def test_the_deliveries_hold_only_aliases_and_forget_lines(stack):
    app, keys, connector = stack
    teams_supporters(app, connector, keys, "Ash")
    talk(app, keys, connector)
    say(app, keys, connector, "aad-asker", ASKER_CHAT, "a private line")
    drain(app)
    with system_ctx(app).session as session:
        stored = json.dumps([(d.dedupe_key, d.data) for d in session.scalars(select(Delivery))])
    assert "relay_line:" in stored and "relay_started:" in stored
    assert "aad-asker" not in stored and "a private line" not in stored
