"""`POST /api/messages`: nothing is processed before the token checks out; install says hello."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.runtime import runtime
from integrations.teams.storage import CONVERSATIONS
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, World, issue_token
from tests.integration.test_deliveries import drain
from tests.teams.conftest import (
    APP_ID,
    CHAT,
    SECRET,
    TENANT,
    card_of,
    execute,
    from_person,
    post,
    teams_supporters,
)


def installed(connector_url: str) -> dict:
    return {
        "type": "conversationUpdate",
        "channelId": "msteams",
        "serviceUrl": connector_url,
        "from": {"id": "29:person", "aadObjectId": "aad-person"},
        "recipient": {"id": "28:bot"},
        "conversation": {"id": CHAT, "conversationType": "personal"},
        "membersAdded": [{"id": "29:person"}],
        "channelData": {"tenant": {"id": TENANT}},
    }


def stored_references(app) -> int:
    with runtime(app).engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(CONVERSATIONS)) or 0)


def test_installing_the_bot_sends_the_notice_and_crisis_resources(stack):
    app, keys, connector = stack
    assert post(app, installed(connector.url), keys.token()).status_code == 200
    [welcome] = connector.activities[CHAT]
    assert "not a crisis" in welcome["text"].lower() and "alias" in welcome["text"]
    assert stored_references(app) == 1, "the bot can now write first"


@pytest.mark.parametrize(
    "token",
    [None, "not-a-jwt", "forged"],
    ids=["no header", "garbage", "wrong audience"],
)
def test_an_activity_without_a_valid_token_gets_401_and_nothing_happens(stack, token):
    app, keys, connector = stack
    if token == "forged":
        token = keys.token(aud="someone-elses-bot")
    answer = post(app, installed(connector.url), token)
    assert answer.status_code == 401
    assert connector.activities.get(CHAT, []) == [] and stored_references(app) == 0


def test_a_token_for_another_service_url_is_refused(stack):
    app, keys, connector = stack
    activity = installed(connector.url) | {"serviceUrl": "https://smba.trafficmanager.net/x/"}
    assert post(app, activity, keys.token()).status_code == 401
    assert stored_references(app) == 0


def test_with_teams_settings_the_plugin_serves_the_bot_and_adds_the_channel(
    database_url, tmp_path, clock, monkeypatch
):
    from integrations.teams.plugin import init_app

    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("TEAMS_APP_PASSWORD", SECRET)
    monkeypatch.setenv("TEAMS_TENANT_ID", TENANT)
    app = make_app(database_url, tmp_path, clock, plugins=[("teams", init_app)])
    assert "teams" in runtime(app).channels
    assert app.test_client().post("/api/messages", json={"type": "message"}).status_code == 401
    runtime(app).engine.dispose()


def test_a_message_gets_the_request_form_with_a_submit_fallback(stack):
    app, keys, connector = stack
    post(
        app, from_person(connector.url, "aad-asker", CHAT, type="message", text="hi"), keys.token()
    )
    [reply] = connector.activities[CHAT]
    form = card_of(reply)
    [action] = form["actions"]
    assert action["type"] == "Action.Execute" and action["verb"] == "peer_request"
    assert action["fallback"]["type"] == "Action.Submit"
    assert "not a crisis" in json.dumps(form).lower()


def test_ask_in_teams_then_a_teams_supporter_accepts_from_the_offer_card(stack):
    app, keys, connector = stack
    world = World(app, app.test_client())
    world.admin = issue_token(app, "admin", "acme")
    for alias, aad in (("Ash", "aad-ash"), ("Birch", "aad-birch")):
        world.add_supporter(
            alias, weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": aad}]
        )
        connector.open_conversation(f"a:{alias}")
        post(
            app,
            from_person(
                connector.url, aad, f"a:{alias}", type="conversationUpdate", membersAdded=[]
            ),
            keys.token(),
        )
    answer = post(
        app,
        from_person(
            connector.url,
            "aad-asker",
            CHAT,
            **execute(
                "peer_request", topic="stress", mode="text", language="en", note="private words"
            ),
        ),
        keys.token(),
    )
    assert answer.status_code == 200 and answer.json["statusCode"] == 200
    assert answer.json["type"] == "application/vnd.microsoft.card.adaptive"
    assert "to your supporter" in json.dumps(answer.json["value"])
    assert drain(app) == ["sent", "sent"]
    offers = {alias: card_of(connector.activities[f"a:{alias}"][-1]) for alias in ("Ash", "Birch")}
    assert "private words" not in json.dumps(offers) and "A Real Name" not in json.dumps(offers)
    accept = next(a for a in offers["Ash"]["actions"] if a["verb"] == "offer_accept")
    won = post(
        app,
        from_person(
            connector.url,
            "aad-ash",
            "a:Ash",
            **execute("offer_accept", offer_id=accept["data"]["offer_id"]),
        ),
        keys.token(),
    )
    assert "You accepted" in json.dumps(won.json["value"])
    other = next(a for a in offers["Birch"]["actions"] if a["verb"] == "offer_accept")
    lost = post(
        app,
        from_person(
            connector.url,
            "aad-birch",
            "a:Birch",
            **execute("offer_accept", offer_id=other["data"]["offer_id"]),
        ),
        keys.token(),
    )
    assert "took this one" in json.dumps(lost.json["value"])
    before = len(connector.activities["a:Birch"])
    drain(app)
    birch = connector.activities["a:Birch"]
    assert len(birch) == before, "no new message: Birch's offer card itself changed"
    assert "taken" in json.dumps(card_of(birch[-1])) and "actions" not in card_of(birch[-1])
    stranger = post(
        app,
        from_person(
            connector.url,
            "aad-nobody",
            "a:x",
            **execute("offer_accept", offer_id=other["data"]["offer_id"]),
        ),
        keys.token(),
    )
    assert "not on this program's supporter roster" in json.dumps(stranger.json["value"])


def test_the_submit_fallback_answers_with_a_new_message(stack):
    app, keys, connector = stack
    fallback = from_person(
        connector.url,
        "aad-asker",
        CHAT,
        type="message",
        value={"verb": "peer_request", "topic": "nope", "mode": "text", "language": "en"},
    )
    assert post(app, fallback, keys.token()).status_code == 200
    [reply] = connector.activities[CHAT]
    assert "not offered" in json.dumps(card_of(reply)), "the problem is shown on the form"


def test_after_a_completed_chat_the_teams_requester_rates_it_once(stack):
    app, keys, connector = stack
    world = teams_supporters(app, connector, keys, "Ash")
    update = from_person(connector.url, "aad-asker", CHAT, type="conversationUpdate")
    post(app, update | {"membersAdded": []}, keys.token())
    ask = execute("peer_request", topic="stress", mode="text", language="en")
    post(app, from_person(connector.url, "aad-asker", CHAT, **ask), keys.token())
    drain(app)
    offer = card_of(connector.activities["a:Ash"][-1])
    accept = next(a for a in offer["actions"] if a["verb"] == "offer_accept")
    offer_id = accept["data"]["offer_id"]
    post(
        app,
        from_person(
            connector.url, "aad-ash", "a:Ash", **execute("offer_accept", offer_id=offer_id)
        ),
        keys.token(),
    )
    supporter = {"Authorization": f"Bearer {world.supporter_token('Ash')}"}
    [mine] = app.test_client().get("/api/v1/offers?program=acme", headers=supporter).json
    closed = app.test_client().post(
        f"/api/v1/requests/{mine['request_id']}/close", json={}, headers=supporter
    )
    assert closed.status_code == 200, closed.json
    drain(app)
    prompt = card_of(connector.activities[CHAT][-1])
    [send] = prompt["actions"]
    rate = execute("feedback", request_id=send["data"]["request_id"], rating="4", comment="kind")
    stranger = post(app, from_person(connector.url, "aad-other", "a:o", **rate), keys.token())
    assert "could not be found" in json.dumps(stranger.json["value"])
    thanked = post(app, from_person(connector.url, "aad-asker", CHAT, **rate), keys.token())
    assert "Thank you" in json.dumps(thanked.json["value"])
    again = post(app, from_person(connector.url, "aad-asker", CHAT, **rate), keys.token())
    assert "already given" in json.dumps(again.json["value"])


@pytest.mark.parametrize(
    "value",
    [None, "text", {"action": "x"}, {"action": {"verb": "peer_request", "data": ["a"]}}],
    ids=["no value", "a string", "action not an object", "data not an object"],
)
def test_a_malformed_card_action_gets_the_form_back_not_an_error(stack, value):
    app, keys, connector = stack
    invoke = {"type": "invoke", "name": "adaptiveCard/action", "value": value}
    answer = post(app, from_person(connector.url, "aad-asker", CHAT, **invoke), keys.token())
    assert answer.status_code == 200 and answer.json["statusCode"] == 200
    assert "Talk to a peer" in json.dumps(answer.json["value"]), "the request form again"
