"""OAuth installs against the fake Slack: install, link, act as the installed bot, uninstall."""

from __future__ import annotations

import json
import os
import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from core.runtime import runtime
from integrations.slack.plugin import init_app
from integrations.slack.storage import BOTS, INSTALLATIONS, OAUTH_STATES, WORKSPACES
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.fakes.slack import FakeSlack, default_installation
from tests.helpers import EVERY_WEEKDAY, make_world
from tests.integration.test_deliveries import ask_now, drain, rows
from tests.slack.test_flow import ASH, ask
from tests.slack.test_wiring import SIGNING_SECRET

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-for-tests"
INSTALLED_TOKEN = "xoxb-installed-token"


@pytest.fixture(autouse=True)
def _only_our_slack_settings(monkeypatch):
    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def slack():
    with FakeSlack(token=INSTALLED_TOKEN) as fake:
        yield fake


def oauth_app(database_url, tmp_path, clock, monkeypatch, api_url: str, *, program: bool = True):
    """The app with OAuth settings only (no bot token); with the 'acme' program and Ash."""
    monkeypatch.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", api_url)
    application = make_app(
        database_url, tmp_path, clock, plugins=[("slack", init_app), ("lms", lms_plugin)]
    )
    world = make_world(application, application.test_client())
    if program:
        world.add_supporter(
            "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "slack", "address": ASH}]
        )
    return world


@pytest.fixture
def world(database_url, tmp_path, clock, monkeypatch, slack):
    world = oauth_app(database_url, tmp_path, clock, monkeypatch, slack.url)
    yield world
    runtime(world.app).engine.dispose()


@pytest.fixture
def app(world):
    return world.app


def count(app, table) -> int:
    with runtime(app).engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def start_install(client) -> str:
    """Open the install page; the state in its authorize link."""
    page = client.get("/slack/install")
    assert page.status_code == 200
    [link] = re.findall(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    query = parse_qs(urlsplit(unescape(link)).query)
    assert query["client_id"] == [CLIENT_ID]
    assert "chat:write" in query["scope"][0].split(",")
    return query["state"][0]


def install(app) -> None:
    client = app.test_client()
    state = start_install(client)
    done = client.get(f"/slack/oauth_redirect?code=code-1&state={state}")
    assert done.status_code == 200, done.text
    assert "installed for the program acme" in done.text


def signed_event(client, event: dict, event_id: str = "Ev0UNINSTALL"):
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event_id": event_id,
            "event_time": 1_772_614_800,
            "event": event,
        }
    )
    stamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=stamp, body=body
        ),
        "Content-Type": "application/json",
    }
    return client.post("/slack/events", data=body, headers=headers)


def test_the_install_page_links_to_slack_with_our_client_id_and_a_stored_state(app, slack):
    state = start_install(app.test_client())
    assert state
    assert count(app, OAUTH_STATES) == 1
    assert slack.calls() == [], "the install page calls no Slack API"


def test_the_redirect_stores_the_installation_and_links_the_workspace(app, slack):
    install(app)
    [access] = slack.calls("oauth.v2.access")
    assert access.params["client_id"] == CLIENT_ID and access.params["code"] == "code-1"
    assert count(app, INSTALLATIONS) == 1 and count(app, BOTS) == 1
    with runtime(app).engine.connect() as connection:
        [team] = connection.scalars(select(WORKSPACES.c.team_id)).all()
    assert team == "T0TEAM"


@pytest.mark.parametrize("state", ["not-a-state", ""], ids=["wrong", "missing"])
def test_a_wrong_state_shows_an_error_and_stores_nothing(app, slack, state):
    client = app.test_client()
    start_install(client)
    answer = client.get(f"/slack/oauth_redirect?code=code-1&state={state}")
    assert answer.status_code >= 400
    assert slack.calls("oauth.v2.access") == []
    assert count(app, INSTALLATIONS) == 0 and count(app, WORKSPACES) == 0


def test_a_state_is_used_once(app, slack):
    client = app.test_client()
    state = start_install(client)
    assert client.get(f"/slack/oauth_redirect?code=code-1&state={state}").status_code == 200
    again = client.get(f"/slack/oauth_redirect?code=code-2&state={state}")
    assert again.status_code >= 400
    assert len(slack.calls("oauth.v2.access")) == 1


def test_without_a_program_to_link_the_page_names_the_cli_command(
    database_url, tmp_path, clock, monkeypatch, slack
):
    monkeypatch.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    application = make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)])
    client = application.test_client()
    state = start_install(client)
    done = client.get(f"/slack/oauth_redirect?code=code-1&state={state}")
    assert "peerline slack link T0TEAM PROGRAM" in done.text
    assert count(application, INSTALLATIONS) == 1 and count(application, WORKSPACES) == 0
    make_world(application, client)
    runner = application.test_cli_runner()
    assert runner.invoke(args=["slack", "link", "T0TEAM", "nope"]).exit_code != 0
    result = runner.invoke(args=["slack", "link", "T0TEAM", "acme"])
    assert result.exit_code == 0, result.output
    assert count(application, WORKSPACES) == 1
    runtime(application).engine.dispose()


def test_the_installed_bot_answers_slash_commands_and_sends_deliveries(app, slack):
    install(app)
    assert ask(app, slack).status_code == 200
    [opened] = slack.calls("views.open")
    assert opened.headers["Authorization"] == f"Bearer {INSTALLED_TOKEN}"
    drain(app)
    [posted] = slack.calls("chat.postMessage")
    assert posted.headers["Authorization"] == f"Bearer {INSTALLED_TOKEN}"
    assert slack.messages_to(ASH)


def test_an_expiring_rotated_bot_token_is_refreshed_before_a_delivery(
    database_url, tmp_path, clock, monkeypatch
):
    first = default_installation("T0TEAM", "U0BOT") | {
        "access_token": "xoxe.xoxb-first",
        "refresh_token": "xoxe-1-refresh",
        "expires_in": 60,  # inside the refresh window at once
    }
    with FakeSlack(token="xoxe.xoxb-first", installation=first) as fake:
        world = oauth_app(database_url, tmp_path, clock, monkeypatch, fake.url)
        install(world.app)
        fake.installation = first | {"access_token": "xoxe.xoxb-second", "expires_in": 43_200}
        fake.token = "xoxe.xoxb-second"
        ask_now(world)
        drain(world.app)
        [posted] = fake.calls("chat.postMessage")
        assert posted.headers["Authorization"] == "Bearer xoxe.xoxb-second"
        refresh = fake.calls("oauth.v2.access")[-1]
        assert refresh.params["grant_type"] == "refresh_token"
        assert refresh.params["refresh_token"] == "xoxe-1-refresh"
        runtime(world.app).engine.dispose()


def test_after_app_uninstalled_the_workspace_is_forgotten_and_deliveries_are_dead(world, slack):
    install(world.app)
    answer = signed_event(world.app.test_client(), {"type": "app_uninstalled"})
    assert answer.status_code == 200
    assert count(world.app, INSTALLATIONS) == 0 and count(world.app, BOTS) == 0
    assert count(world.app, WORKSPACES) == 0
    ask_now(world)
    assert "dead" in drain(world.app)
    assert slack.calls("chat.postMessage") == []
    [offer] = [d for d in rows(world.app) if d.kind == "offer_made"]
    assert offer.status == "dead" and offer.last_error


def test_after_tokens_revoked_a_delivery_is_a_dead_letter_naming_why(world, slack):
    install(world.app)
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0BOT"]}}
    assert signed_event(world.app.test_client(), revoked, "Ev0REVOKE").status_code == 200
    assert count(world.app, BOTS) == 0 and count(world.app, WORKSPACES) == 1
    ask_now(world)
    drain(world.app)
    assert slack.calls("chat.postMessage") == []
    [offer] = [d for d in rows(world.app) if d.kind == "offer_made"]
    assert offer.status == "dead" and "reinstall the Slack app" in offer.last_error
