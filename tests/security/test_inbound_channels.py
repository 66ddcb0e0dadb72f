"""Every inbound channel, attacked: forged, expired, replayed, for the wrong audience.

Each refusal is checked the way it would matter: nothing stored (every table's row count
unchanged) and nothing sent (no call to the fake Slack, no activity to the fake Connector).
Unit-level checks of each rule live beside the code (tests/teams/test_auth.py,
tests/lms/test_lti_refusals.py, tests/teams/test_console_sign_in.py, tests/slack/); here
are the channel-level cases they leave open.

Canvas and Moodle are outbound only (PeerLine calls them; nothing of theirs calls in), and
calendar feeds and requesters' private links are capability URLs with their own tests.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, inspect, select, table

from core.runtime import runtime
from integrations.slack import modals
from integrations.slack.plugin import init_app as slack_plugin
from tests.conftest import make_app
from tests.fakes.botframework_keys import FakeBotFrameworkKeys, new_rsa_key
from tests.fakes.slack import FakeSlack
from tests.helpers import EVERY_WEEKDAY, make_world
from tests.integration.test_deliveries import drain
from tests.teams.conftest import CHAT, execute, from_person, post, teams_stack, teams_supporters

SECRET = "inbound-signing-secret-0123456789abcdef"
OTHER_APP_SECRET = "another-apps-signing-secret-fedcba987654"
BOT_TOKEN = "xoxb-inbound-bot-token"
ASKER, ASH = "U0ASKER", "U0ASH"
NOTE = "MARKER-NOTE words only my supporter may read"
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def snapshot(app: Flask, ignore: frozenset[str] = frozenset()) -> dict[str, int]:
    """Rows per table, every table: a refusal must leave each count where it was."""
    engine = runtime(app).engine
    names = [n for n in inspect(engine).get_table_names() if n not in ignore]
    with engine.connect() as connection:
        return {
            n: int(connection.scalar(select(func.count()).select_from(table(n))) or 0)
            for n in names
        }


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    for name in [n for n in __import__("os").environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)
    with FakeSlack(token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def slack_app(database_url, tmp_path, clock, monkeypatch, slack) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_PROGRAM", "acme")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    app = make_app(database_url, tmp_path, clock, plugins=[("slack", slack_plugin)])
    world = make_world(app, app.test_client())
    world.add_supporter(
        "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "slack", "address": ASH}]
    )
    yield app
    runtime(app).engine.dispose()


def slash_command(team: str = "T0TEAM") -> tuple[str, str]:
    """/peer as Slack posts it: it would open the request modal."""
    form = {
        "command": "/peer", "text": "", "user_id": ASKER, "team_id": team,
        "trigger_id": "trigger-inbound", "channel_id": "D0",
        "response_url": "https://hooks.slack.invalid/commands/1",
    }  # fmt: skip
    return urlencode(form), FORM


def submission(team: str = "T0TEAM") -> tuple[str, str]:
    """The request modal submitted with a note: it would file a support request."""
    chosen = {"topic": "stress", "urgency": "now", "mode": "text", "language": "en"}
    values: dict[str, Any] = {k: {k: {"selected_option": {"value": v}}} for k, v in chosen.items()}
    values["note"] = {"note": {"value": NOTE}}
    view = {
        "id": "V0MODAL", "type": "modal", "callback_id": modals.CALLBACK_ID,
        "private_metadata": json.dumps({"program": "acme"}), "state": {"values": values},
    }  # fmt: skip
    payload = {"type": "view_submission", "team": {"id": team}, "user": {"id": ASKER}, "view": view}
    return urlencode({"payload": json.dumps(payload)}), FORM


def home_opened(team: str = "T0TEAM") -> tuple[str, str]:
    """An Events API event: it would publish the Home tab."""
    event = {"type": "app_home_opened", "user": ASKER, "channel": "D0", "tab": "home"}
    body = {
        "type": "event_callback", "team_id": team, "api_app_id": "A0APP",
        "event_id": "Ev0INBOUND", "event_time": 1_772_614_800, "event": event,
    }  # fmt: skip
    return json.dumps(body), JSON


def signed(body: str, kind: str, *, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    """Headers as Slack sends them, signed by slack_sdk's own code `age` seconds ago."""
    stamp = str(int(time.time()) - age)
    signature = str(SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body))
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": kind,
    }


def to_slack(app: Flask, body: str, headers: dict[str, str]) -> Any:
    return app.test_client().post("/slack/events", data=body, headers=headers)


SLACK_REQUESTS = {
    "slash command": slash_command,
    "modal submission": submission,
    "event": home_opened,
}
Attack = Callable[[str, str], tuple[str, dict[str, str]]]
SLACK_ATTACKS: dict[str, Attack] = {
    "forged: signed with another app's secret": lambda b, k: (
        b,
        signed(b, k, secret=OTHER_APP_SECRET),
    ),
    "expired: signed six minutes ago": lambda b, k: (b, signed(b, k, age=6 * 60)),
    "from the future: six minutes ahead": lambda b, k: (b, signed(b, k, age=-6 * 60)),
    "tampered: body changed after signing": lambda b, k: (
        b.replace("U0ASKER", "U0OTHER"),
        signed(b, k),
    ),
    "unsigned": lambda b, k: (b, {"Content-Type": k}),
    "garbage timestamp": lambda b, k: (b, {**signed(b, k), "X-Slack-Request-Timestamp": "soon"}),
}


@pytest.mark.parametrize("attack", SLACK_ATTACKS, ids=list(SLACK_ATTACKS))
@pytest.mark.parametrize("kind", SLACK_REQUESTS, ids=list(SLACK_REQUESTS))
def test_a_slack_request_not_signed_just_now_by_our_app_is_refused_and_changes_nothing(
    slack_app: Flask, slack: FakeSlack, kind: str, attack: str
) -> None:
    body, headers = SLACK_ATTACKS[attack](*SLACK_REQUESTS[kind]())
    before = snapshot(slack_app)
    assert to_slack(slack_app, body, headers).status_code == 401
    assert snapshot(slack_app) == before
    drain(slack_app)
    assert slack.calls() == [], "no listener ran and nothing was sent"


def requests_filed(app: Flask) -> int:
    return snapshot(app)["support_requests"]


def test_a_replayed_modal_submission_files_no_second_request(
    slack_app: Flask, slack: FakeSlack
) -> None:
    body, kind = submission()
    headers = signed(body, kind)
    assert to_slack(slack_app, body, headers).status_code == 200
    assert requests_filed(slack_app) == 1
    after_first = snapshot(slack_app)
    assert to_slack(slack_app, body, headers).status_code == 401, "the same signed bytes again"
    assert snapshot(slack_app) == after_first
    drain(slack_app)
    assert len(slack.messages_to(ASH)) == 1, "one offer, for one request"


def test_a_replayed_slash_command_opens_no_second_modal(slack_app: Flask, slack: FakeSlack) -> None:
    body, kind = slash_command()
    headers = signed(body, kind)
    assert to_slack(slack_app, body, headers).status_code == 200
    assert to_slack(slack_app, body, headers).status_code == 401  # refused before any work
    assert len(slack.wait_for("views.open")) == 1, "the first one's modal, opened after its 200"


@pytest.mark.parametrize("make", [home_opened, submission], ids=["event", "modal submission"])
def test_slacks_own_retry_is_acknowledged_and_not_run_again(
    slack_app: Flask, slack: FakeSlack, make: Callable[[], tuple[str, str]]
) -> None:
    body, kind = make()
    headers = signed(body, kind)
    assert to_slack(slack_app, body, headers).status_code == 200
    before = snapshot(slack_app)
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert to_slack(slack_app, body, retry).status_code == 200
    assert snapshot(slack_app) == before
    ran = len(slack.calls("views.publish")) + requests_filed(slack_app)
    assert ran == 1, "one Home tab published, or one request filed: once, not twice"


def test_a_request_that_failed_runs_again_when_slack_retries_the_same_bytes(
    slack_app: Flask, slack: FakeSlack
) -> None:
    slack.fail("views.publish", "internal_error")
    body, kind = home_opened()
    headers = signed(body, kind)
    assert to_slack(slack_app, body, headers).status_code == 500
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert to_slack(slack_app, body, retry).status_code == 200
    assert len(slack.calls("views.publish")) == 2, "the retry ran; Slack now has the Home tab"


@pytest.mark.parametrize(
    "make", [slash_command, submission], ids=["slash command", "modal submission"]
)
def test_a_signed_request_from_a_workspace_our_bot_does_not_serve_changes_nothing(
    slack_app: Flask, slack: FakeSlack, make: Callable[[str], tuple[str, str]]
) -> None:
    body, kind = make("T0ELSEWHERE")
    before = snapshot(slack_app, ignore=frozenset({"slack_events_seen"}))
    assert to_slack(slack_app, body, signed(body, kind)).status_code == 200
    assert snapshot(slack_app, ignore=frozenset({"slack_events_seen"})) == before
    drain(slack_app)
    assert [call.method for call in slack.calls()] == ["auth.test"], "only: whose token is ours"


# -- Teams ------------------------------------------------------------------------------------


@pytest.fixture
def teams(database_url, tmp_path, clock) -> Iterator[tuple[Flask, Any, Any]]:  # type: ignore[no-untyped-def]
    with teams_stack(database_url, tmp_path, clock) as (app, keys, connector):
        teams_supporters(app, connector, keys, "Ash")
        yield app, keys, connector


def ask_in_teams(connector_url: str, activity_id: str = "1772000000001") -> dict[str, Any]:
    """Ask for a chat from the Teams form, with a note: it would file a support request."""
    chosen = {"topic": "stress", "mode": "text", "language": "en", "note": NOTE}
    return from_person(
        connector_url, "aad-asker", CHAT, id=activity_id, **execute("peer_request", **chosen)
    )


def tampered(token: str) -> str:
    """A real token whose claims were edited after signing (a longer life, another app)."""
    head, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    edited = {**decoded, "exp": decoded["exp"] + 86_400}
    raw = base64.urlsafe_b64encode(json.dumps(edited).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{signature}"


def _expired(keys: FakeBotFrameworkKeys, now: int) -> str:
    return keys.token(exp=now - 6 * 60, nbf=now - 3600)


def _unendorsed(keys: FakeBotFrameworkKeys, _now: int) -> str:
    other = keys.add_key("key-webchat", endorsements=("webchat",))
    return keys.token(kid=other.kid, key=other.private)


TEAMS_ATTACKS: dict[str, Callable[[FakeBotFrameworkKeys, int], str | None]] = {
    "no token": lambda keys, now: None,
    "forged: a key Microsoft never published": lambda keys, now: keys.token(key=new_rsa_key()),
    "forged: alg none": lambda keys, now: keys.token(alg="none"),
    "forged: HS256 with a guessed secret": lambda keys, now: keys.token(alg="HS256", key=b"k" * 32),
    "tampered: claims edited after signing": lambda keys, now: tampered(keys.token()),
    "expired beyond the 5-minute skew": _expired,
    "wrong audience: another bot's app id": lambda keys, now: keys.token(aud="someone-elses-bot"),
    "wrong issuer": lambda keys, now: keys.token(iss="https://login.evil.example"),
    "wrong serviceUrl claim": lambda keys, now: keys.token(serviceurl="https://smba.evil.example/"),
    "key not endorsed for msteams": _unendorsed,
}


@pytest.mark.parametrize("attack", TEAMS_ATTACKS, ids=list(TEAMS_ATTACKS))
def test_a_teams_activity_without_a_valid_token_is_refused_and_changes_nothing(
    teams: tuple[Flask, Any, Any], clock: Any, attack: str
) -> None:
    app, keys, connector = teams
    token = TEAMS_ATTACKS[attack](keys, int(clock.now().timestamp()))
    before, sent = snapshot(app), json.dumps(connector.activities)
    assert post(app, ask_in_teams(connector.url), token).status_code == 401
    assert snapshot(app) == before
    assert drain(app) == [] and json.dumps(connector.activities) == sent


def test_a_replayed_teams_activity_is_handled_once(teams: tuple[Flask, Any, Any]) -> None:
    app, keys, connector = teams
    activity, token = ask_in_teams(connector.url), keys.token()
    first = post(app, activity, token)
    assert first.status_code == 200 and "to your supporter" in json.dumps(first.json)
    after_first = snapshot(app, ignore=frozenset({"teams_activities_seen"}))
    again = post(app, activity, token)
    assert again.status_code == 200 and "not done a second time" in json.dumps(again.json)
    assert snapshot(app, ignore=frozenset({"teams_activities_seen"})) == after_first
    assert after_first["support_requests"] == 1
    assert drain(app) == ["sent"], "one offer, to Ash, for one request"
    another = post(app, ask_in_teams(connector.url, activity_id="1772000000002"), keys.token())
    assert "not done a second time" not in json.dumps(another.json), "a new activity still runs"
