"""bolt in Flask for one workspace: signed requests only, retries run once, Home tab, manifest."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from slack_sdk.signature import SignatureVerifier

from core.errors import ConfigError
from core.runtime import runtime
from integrations.slack.app import SeenEvents
from integrations.slack.ledger import DatabaseEventLedger
from integrations.slack.plugin import EXTENSION, init_app
from integrations.slack.settings import load_slack_settings
from tests.conftest import make_app
from tests.fakes.slack import FakeSlack
from tests.helpers import make_world

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
RESOURCES = [
    {"locale": "en-GB", "name": "Samaritans", "contact": "Call 116 123"},
    {"locale": "en", "name": "Shout <85258>", "contact": "Text SHOUT to 85258"},
]
PUBLIC = "https://peer.example.org"


@pytest.fixture(autouse=True)
def _no_outside_slack_settings(monkeypatch):
    """A developer's own SLACK_* or proxy variables must not change what these tests see."""
    for name in list(os.environ):
        if name.startswith("SLACK_") or name.lower() in ("http_proxy", "https_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_slack():
    with FakeSlack(token=BOT_TOKEN) as slack:
        yield slack


def closed_port_api() -> str:
    """A loopback address nothing listens on: any Web API call fails fast, nothing leaves."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


def slack_app(database_url, tmp_path, clock, monkeypatch, api_url, **settings):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_PROGRAM", "acme")
    monkeypatch.setenv("SLACK_API_URL", api_url)
    return make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)], **settings)


def signed(body: str, *, secret: str = SIGNING_SECRET, age: int = 0) -> dict[str, str]:
    """Headers as Slack sends them, signed by slack_sdk's own code against the wall clock."""
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
    }


def home_opened(event_id: str = "Ev0001", tab: str = "home") -> str:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event_id": event_id,
            "event_time": 1_772_614_800,
            "event": {"type": "app_home_opened", "user": "U0PERSON", "channel": "D0", "tab": tab},
        }
    )


def post(client, body: str, headers: dict[str, str] | None = None):
    return client.post("/slack/events", data=body, headers=headers or {})


# -- request verification ---------------------------------------------------------------------


def test_a_signed_url_verification_is_answered_and_nothing_calls_slack_at_start_up(
    database_url, tmp_path, clock, monkeypatch, fake_slack
):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    assert fake_slack.calls() == [], "creating the app must not call auth.test"
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "c-123"})
    response = post(app.test_client(), body, signed(body))
    assert response.status_code == 200
    assert response.json == {"challenge": "c-123"}
    assert app.extensions[EXTENSION].client.base_url == fake_slack.url
    assert app.test_client().get("/slack/events").status_code == 405


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, secret="not-the-secret"), id="wrong-signature"),
        pytest.param(lambda body: {"Content-Type": "application/json"}, id="missing-headers"),
        pytest.param(lambda body: signed(body, age=6 * 60), id="six-minutes-old"),
        pytest.param(lambda body: signed(body + " "), id="body-changed-after-signing"),
    ],
)
def test_a_request_slack_did_not_sign_just_now_gets_401_and_runs_nothing(
    database_url, tmp_path, clock, monkeypatch, fake_slack, headers, caplog
):
    caplog.set_level(logging.INFO)  # before the app: bolt copies the root level when built
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    make_world(app, app.test_client(), crisis_resources=RESOURCES)
    body = home_opened().replace("U0PERSON", "U0WORDS")
    response = post(app.test_client(), body, headers(body))
    assert response.status_code == 401
    assert fake_slack.calls() == [], "no listener ran, no Web API call was made"
    assert "U0WORDS" not in caplog.text, "a refused body is not logged"


# -- Home tab -----------------------------------------------------------------------------------


def test_opening_the_home_tab_publishes_the_notice_and_the_program_crisis_resources(
    database_url, tmp_path, clock, monkeypatch, fake_slack
):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    client = app.test_client()
    make_world(app, client, crisis_resources=RESOURCES, locale="en-GB")
    body = home_opened()
    assert post(client, body, signed(body)).status_code == 200
    [publish] = fake_slack.calls("views.publish")
    assert publish.params["user_id"] == "U0PERSON"
    view = publish.params["view"]
    text = json.dumps(view)
    assert view["type"] == "home"
    assert "It is not a crisis or emergency service" in text
    assert "Samaritans" in text and "Call 116 123" in text
    assert "Shout &lt;85258&gt;" in text and "<85258>" not in text, "names are escaped"
    assert "/peer" in text


def test_the_messages_tab_publishes_nothing(database_url, tmp_path, clock, monkeypatch, fake_slack):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    body = home_opened(tab="messages")
    assert post(app.test_client(), body, signed(body)).status_code == 200
    assert fake_slack.calls("views.publish") == []


def test_a_missing_program_still_shows_the_notice_and_default_resources(
    database_url, tmp_path, clock, monkeypatch, fake_slack
):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    body = home_opened()
    assert post(app.test_client(), body, signed(body)).status_code == 200
    text = json.dumps(fake_slack.calls("views.publish")[0].params["view"])
    assert "not a crisis or emergency service" in text and "Call or text 988" in text


# -- retries ------------------------------------------------------------------------------------


def test_an_event_delivered_twice_runs_once(database_url, tmp_path, clock, monkeypatch, fake_slack):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    client = app.test_client()
    make_world(app, client, crisis_resources=RESOURCES)
    body = home_opened("Ev0001")
    assert post(client, body, signed(body)).status_code == 200
    retry = {**signed(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert post(client, body, retry).status_code == 200
    assert len(fake_slack.calls("views.publish")) == 1
    other = home_opened("Ev0002")
    assert post(client, other, signed(other)).status_code == 200
    assert len(fake_slack.calls("views.publish")) == 2, "a new event still runs"


def test_an_event_that_failed_runs_again_when_slack_retries(
    database_url, tmp_path, clock, monkeypatch, fake_slack
):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, fake_slack.url)
    client = app.test_client()
    make_world(app, client, crisis_resources=RESOURCES)
    fake_slack.fail("views.publish", "internal_error")
    body = home_opened("Ev0003")
    assert post(client, body, signed(body)).status_code == 500
    retry = {**signed(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert post(client, body, retry).status_code == 200
    assert len(fake_slack.calls("views.publish")) == 2


def test_seen_events_expire_after_the_ttl_and_stay_bounded(clock):
    seen = SeenEvents(clock.now, capacity=3, ttl=timedelta(hours=1))
    assert seen.claim("Ev1") and not seen.claim("Ev1")
    clock.advance(minutes=59)
    assert not seen.claim("Ev1")
    clock.advance(minutes=1)
    assert seen.claim("Ev1"), "an hour later the id is forgotten"
    for event_id in ("Ev2", "Ev3", "Ev4"):
        assert seen.claim(event_id)
    assert seen.claim("Ev1"), "the oldest id made room for newer ones"
    assert not seen.claim("Ev4")


def claimed_by_racing_threads(seen: SeenEvents | DatabaseEventLedger) -> int:
    """How many of 16 threads released together were told they claimed one event."""
    barrier = threading.Barrier(16)

    def claim(_: int) -> bool:
        barrier.wait(timeout=10)
        return seen.claim("Ev-race")

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(claim, range(16))).count(True)


def test_seen_events_lets_exactly_one_of_many_threads_claim_an_event(clock):
    assert claimed_by_racing_threads(SeenEvents(clock.now)) == 1


def test_the_database_ledger_lets_exactly_one_of_many_threads_claim_an_event(
    database_url, tmp_path, clock
):
    seen = DatabaseEventLedger(runtime(make_app(database_url, tmp_path, clock)))
    assert claimed_by_racing_threads(seen) == 1
    assert seen.claim("Ev-other") and not seen.claim("Ev-other")


# -- revocation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_losing_access_is_logged_without_ids(
    database_url, tmp_path, clock, monkeypatch, kind, caplog
):
    app = slack_app(database_url, tmp_path, clock, monkeypatch, closed_port_api())
    event = {"type": kind}
    if kind == "tokens_revoked":
        event["tokens"] = {"bot": ["U0BOT"]}
    body = json.dumps(
        {"type": "event_callback", "team_id": "T0TEAM", "event_id": "Ev9", "event": event}
    )
    with caplog.at_level(logging.WARNING, logger="integrations.slack"):
        assert post(app.test_client(), body, signed(body)).status_code == 200
    [record] = [r for r in caplog.records if r.name == "integrations.slack.app"]
    assert kind in record.getMessage()
    assert "T0TEAM" not in caplog.text and "U0BOT" not in caplog.text


# -- settings ---------------------------------------------------------------------------------


def test_a_bad_api_url_names_the_variable_and_never_a_secret(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-value")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-very-secret")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-very-secret")
    for bad in ("ftp://slack.com/api/", "https://slack.com/", "http://slack.example/api/"):
        monkeypatch.setenv("SLACK_API_URL", bad)
        with pytest.raises(ConfigError) as caught:
            load_slack_settings()
        assert caught.value.message.startswith("SLACK_API_URL: ")
        assert "very-secret" not in str(caught.value)


def test_a_bad_setting_fails_start_up(database_url, tmp_path, clock, monkeypatch):
    with pytest.raises(ConfigError, match="SLACK_API_URL"):
        slack_app(database_url, tmp_path, clock, monkeypatch, "https://slack.com/web/")


def test_half_a_workspace_or_a_mistyped_secret_is_refused_without_echo(monkeypatch):
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET") as caught:
        load_slack_settings({"signing_secret": ["list-very-secret"]})
    assert "very-secret" not in caught.value.message
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-value")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET") as caught:
        load_slack_settings()
    assert "very-secret" not in str(caught.value)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-very-secret")
    assert load_slack_settings().single_workspace, "the program is found when it is needed"


def test_api_url_is_normalised(monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", "https://slack-gov.com/api")
    assert load_slack_settings().api_url == "https://slack-gov.com/api/"
    monkeypatch.setenv("SLACK_API_URL", "http://localhost:9999/api/")
    assert load_slack_settings().api_url == "http://localhost:9999/api/"
    assert not load_slack_settings().single_workspace


# -- manifest --------------------------------------------------------------------------------


@pytest.fixture
def plain_app(database_url, tmp_path, clock):
    """The Slack plugin with no SLACK_* at all."""
    return make_app(database_url, tmp_path, clock, plugins=[("slack", init_app)])


def manifest(app, *args: str):
    return app.test_cli_runner().invoke(args=["slack", "manifest", *args])


def test_without_slack_settings_there_is_no_endpoint_but_the_manifest_command_works(plain_app):
    assert EXTENSION not in plain_app.extensions
    assert plain_app.test_client().post("/slack/events", data="{}").status_code == 404
    result = manifest(plain_app, "--url", PUBLIC + "/")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    events = f"{PUBLIC}/slack/events"
    assert document["settings"]["event_subscriptions"]["request_url"] == events
    assert document["settings"]["interactivity"] == {"is_enabled": True, "request_url": events}
    [command] = document["features"]["slash_commands"]
    assert command["command"] == "/peer" and command["url"] == events
    assert command["should_escape"] is False and command["usage_hint"]
    assert document["oauth_config"]["redirect_urls"] == [f"{PUBLIC}/slack/oauth_redirect"]
    assert document["settings"]["token_rotation_enabled"] is False, "a fixed token must not expire"
    assert document["settings"]["socket_mode_enabled"] is False
    assert set(document["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "message.im",
        "app_uninstalled",
        "tokens_revoked",
    }


def test_the_manifest_asks_for_exactly_the_scopes_it_needs(plain_app):
    document = json.loads(manifest(plain_app, "--url", PUBLIC).output)
    scopes = document["oauth_config"]["scopes"]
    assert set(scopes) == {"bot"}, "no user scopes"
    assert sorted(scopes["bot"]) == sorted(
        ["commands", "chat:write", "im:history", "im:write", "im:read", "users:read", "files:write"]
    )
    text = json.dumps(document)
    assert "admin" not in text and "users:read.email" not in text


def test_the_manifest_takes_another_command_and_prints_yaml(plain_app):
    yaml = pytest.importorskip("yaml", reason="PyYAML is optional")
    result = manifest(plain_app, "--url", PUBLIC, "--command", "/talk", "--format", "yaml")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert document["features"]["slash_commands"][0]["command"] == "/talk"
    assert document == json.loads(manifest(plain_app, "--url", PUBLIC, "--command", "/talk").output)


def test_a_command_slack_would_refuse_is_refused_here(plain_app):
    refused = manifest(plain_app, "--url", PUBLIC, "--command", "peer now")
    assert refused.exit_code == 2 and "--command" in refused.output


def test_yaml_without_pyyaml_is_a_clear_error(plain_app, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    result = manifest(plain_app, "--url", PUBLIC, "--format", "yaml")
    assert result.exit_code == 2 and "PyYAML" in result.output


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://example.org", False),
        ("http://localhost:8000", True),
        ("https://example.org/peerline", True),
        ("peer.example.org", False),
        ("https://example.org/?x=1", False),
    ],
)
def test_the_manifest_url_must_be_https_except_on_localhost(plain_app, url, ok):
    result = manifest(plain_app, "--url", url)
    if ok:
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["oauth_config"]["redirect_urls"] == [
            f"{url}/slack/oauth_redirect"
        ]
    else:
        assert result.exit_code == 2
        assert "--url" in result.output


def test_the_manifest_uses_peerline_public_url_or_says_what_is_missing(
    plain_app, database_url, tmp_path, clock
):
    missing = manifest(plain_app)
    assert missing.exit_code == 2
    assert "--url" in missing.output and "PEERLINE_PUBLIC_URL" in missing.output
    app = make_app(
        database_url, tmp_path, clock, plugins=[("slack", init_app)], public_url=PUBLIC + "/"
    )
    result = manifest(app)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["oauth_config"]["redirect_urls"] == [
        f"{PUBLIC}/slack/oauth_redirect"
    ]
    insecure = make_app(
        database_url, tmp_path, clock, plugins=[("slack", init_app)], public_url="http://x.org"
    )
    refused = manifest(insecure)
    assert refused.exit_code == 2 and "PEERLINE_PUBLIC_URL" in refused.output
