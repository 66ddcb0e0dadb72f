"""One program on Slack and Teams: a chat relayed between a person in each, both ways round."""

from __future__ import annotations

import json
import os

import pytest

from integrations.slack import relay_text as slack_text
from integrations.slack.plugin import init_app as slack_plugin
from tests.fakes.slack import FakeSlack
from tests.helpers import EVERY_WEEKDAY, World, issue_token
from tests.integration.test_deliveries import drain
from tests.slack.test_flow import click, slash, submit
from tests.slack.test_relay import card_of as slack_card
from tests.slack.test_relay import lines_to, said_to, write
from tests.slack.test_wiring import BOT_TOKEN, SIGNING_SECRET
from tests.teams.conftest import CHAT, introduce, teams_stack
from tests.teams.test_relay import chat_cards, press, say, texts

SLACK_ASKER, SLACK_SUPPORTER = "U0ASKER", "U0ASH"
TEAMS_ASKER, TEAMS_SUPPORTER = "aad-asker", "aad-birch"


@pytest.fixture
def both(database_url, tmp_path, clock, monkeypatch):
    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)
    with FakeSlack(token=BOT_TOKEN) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        monkeypatch.setenv("SLACK_PROGRAM", "acme")
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        plugins = [("slack", slack_plugin)]
        with teams_stack(database_url, tmp_path, clock, plugins) as (app, keys, connector):
            yield app, keys, connector, slack


def sections(slack, user: str) -> list[str]:
    return [
        (b.get("text") or {}).get("text", "") for m in slack.messages_to(user) for b in m["blocks"]
    ]


def roster(app, supporter_platform: str) -> None:
    """One supporter, reached only in the given app."""
    world = World(app, app.test_client())
    world.admin = issue_token(app, "admin", "acme")
    address = SLACK_SUPPORTER if supporter_platform == "slack" else TEAMS_SUPPORTER
    contacts = [{"platform": supporter_platform, "address": address}]
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY, contacts=contacts)


def test_a_slack_requester_and_a_teams_supporter_talk(both):
    app, keys, connector, slack = both
    roster(app, "teams")
    introduce(app, keys, connector, TEAMS_SUPPORTER, "a:Ash")
    assert slash(app.test_client(), user=SLACK_ASKER).status_code == 200
    view = slack.calls("views.open")[-1].params["view"]
    chosen = {"topic": "stress", "urgency": "now", "mode": "text", "language": "en"}
    assert submit(app.test_client(), view, user=SLACK_ASKER, **chosen).status_code == 200
    drain(app)
    offer = connector.activities["a:Ash"][-1]
    accept = next(
        a for a in offer["attachments"][0]["content"]["actions"] if a["verb"] == "offer_accept"
    )
    offer_id = accept["data"]["offer_id"]
    press(app, keys, connector, TEAMS_SUPPORTER, "a:Ash", "offer_accept", offer_id=offer_id)
    drain(app)
    assert "Ash is here to talk with you" in said_to(slack, SLACK_ASKER).replace("*", "")
    assert slack_text.END in json.dumps(slack_card(slack, SLACK_ASKER))
    assert chat_cards(connector, "a:Ash"), "the Teams supporter has the chat's card"
    alias = texts(connector, "a:Ash")[-1].split("talking with ")[1].split(".")[0]

    write(app, SLACK_ASKER, "hello from Slack <@U0BIRCH>")
    drain(app)
    assert texts(connector, "a:Ash")[-1] == f"{alias}: hello from Slack @someone"
    say(app, keys, connector, TEAMS_SUPPORTER, "a:Ash", "hello from <at>Teams Person</at>")
    drain(app)
    assert lines_to(slack, SLACK_ASKER, "Ash") == ["*Ash*: hello from @someone"]
    assert SLACK_ASKER not in json.dumps(connector.activities["a:Ash"])

    request_id = chat_cards(connector, "a:Ash")[-1]["actions"][1]["data"]["request_id"]
    press(app, keys, connector, TEAMS_SUPPORTER, "a:Ash", "relay_end", request_id=request_id)
    drain(app)
    assert "*Ash* ended the chat" in said_to(slack, SLACK_ASKER)
    assert "How was your peer chat?" in said_to(slack, SLACK_ASKER)


def test_a_teams_requester_and_a_slack_supporter_talk(both):
    app, keys, connector, slack = both
    roster(app, "slack")
    introduce(app, keys, connector, TEAMS_ASKER, CHAT)
    ask = {"topic": "stress", "mode": "text", "language": "en"}
    press(app, keys, connector, TEAMS_ASKER, CHAT, "peer_request", **ask)
    drain(app)
    offer = next(m for m in slack.messages_to(SLACK_SUPPORTER) if "offer_accept" in json.dumps(m))
    assert click(app.test_client(), SLACK_SUPPORTER, "offer_accept", offer).status_code == 200
    drain(app)
    assert any("Ash is here to talk with you" in t for t in texts(connector, CHAT))
    assert chat_cards(connector, CHAT), "the Teams requester has the chat's card"

    say(app, keys, connector, TEAMS_ASKER, CHAT, "hi from Teams")
    drain(app)
    [line] = [t for t in sections(slack, SLACK_SUPPORTER) if "hi from Teams" in t]
    assert line.endswith(": hi from Teams") and TEAMS_ASKER not in said_to(slack, SLACK_SUPPORTER)
    write(app, SLACK_SUPPORTER, "hi from Slack")
    drain(app)
    assert texts(connector, CHAT)[-1] == "Ash: hi from Slack"

    card = slack_card(slack, SLACK_SUPPORTER)
    assert click(app.test_client(), SLACK_SUPPORTER, slack_text.END, card).status_code == 200
    drain(app)
    assert any("Ash ended the chat" in t for t in texts(connector, CHAT))
    assert "feedback" in json.dumps(connector.activities[CHAT][-1])
    reveal = slack_text.REVEAL
    assert reveal not in json.dumps(card), "only a requester in Slack is offered the reveal"
