"""The Slack channel against a fake Slack Web API on loopback: DMs, cards, invites, faults."""

from __future__ import annotations

import http.client
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.error import URLError
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from slack_sdk import WebClient
from sqlalchemy import select

from core.clock import FrozenClock
from core.models import Delivery, Offer
from core.notify import deliveries, kinds
from core.ports import Notification
from core.runtime import runtime
from integrations.slack.blocks import escape, offer_id_of, render, span
from integrations.slack.channel import SDK_LOG, SlackChannel, failure
from lms.plugin import init_app as lms_plugin
from tests.conftest import START, make_app
from tests.fakes.slack import UPLOAD, FakeSlack
from tests.fakes.smtp import closed_port
from tests.helpers import EVERY_WEEKDAY, World, auth, make_world, request_body, system_ctx

TOKEN = "xoxb-peerline-test"
SUPPORTER, REQUESTER = "U123", "U999"
NOTE = "Xylophone-quartz private words"
TOPIC = "grief"
RESOURCES = [
    {
        "locale": "en",
        "name": "Samaritans & Friends",
        "contact": "116 123",
        "description": "Any time, day or night",
        "url": "https://www.samaritans.org/",
    },
    {"locale": "en", "name": "988 Lifeline", "contact": "call or text 988"},
]
THURSDAY = "from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def api_url(slack: FakeSlack) -> dict[str, str]:
    """Where the channel's clients go; a test may point it elsewhere (a dead port)."""
    return {"url": slack.url}


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, clock: FrozenClock, api_url: dict[str, str]
) -> Iterator[Flask]:
    def factory() -> WebClient:
        url = api_url["url"]
        return WebClient(token=TOKEN, base_url=url, retry_handlers=[], timeout=5, logger=SDK_LOG)

    plugins = [
        ("lms", lms_plugin),
        ("slack-test", lambda host: host.add_channel(SlackChannel(host.runtime, factory))),
    ]
    application = make_app(database_url, tmp_path, clock, plugins=plugins)
    yield application
    runtime(application).engine.dispose()


@pytest.fixture
def world(app: Flask) -> World:
    built = make_world(app, app.test_client(), crisis_resources=RESOURCES)
    built.add_supporter(
        "Ash",
        weekly=EVERY_WEEKDAY,
        topics=["stress", TOPIC],
        contacts=[{"platform": "slack", "address": SUPPORTER}],
    )
    return built


def ask(client: FlaskClient, world: World, **fields: Any) -> dict[str, Any]:
    requester = fields.pop("requester", {"platform": "slack", "subject": REQUESTER})
    body = request_body(topic=TOPIC, note=NOTE, requester=requester, **fields)
    response = client.post("/api/v1/requests", json=body, headers=auth(world.service))
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def book(client: FlaskClient, world: World) -> dict[str, Any]:
    found = client.get(f"/api/v1/slots?program=acme&{THURSDAY}").json
    slot = found["slots"][0]  # type: ignore[index]
    choice = {"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]}
    return ask(client, world, urgency="scheduled", mode="video", slot=choice)


def drain(app: Flask) -> list[str]:
    """What a worker does with everything due now."""
    current = runtime(app)
    return [deliveries.attempt(current, d).status for d in deliveries.due(current)]


def rows(app: Flask, **where: Any) -> list[Delivery]:
    with system_ctx(app).session as session:
        return list(session.scalars(select(Delivery).filter_by(**where)))


def said(message: dict[str, Any]) -> str:
    """Everything a reader could see in a posted message: fallback text and blocks."""
    return message["text"] + json.dumps(message["blocks"], ensure_ascii=False)


def assert_no_identity(*texts: str) -> None:
    for text in texts:
        for secret in (SUPPORTER, REQUESTER, TOKEN, NOTE):
            assert secret not in text


def test_the_offer_is_a_card_whose_buttons_carry_the_offer_id(app, client, world, slack):
    request = ask(client, world)
    assert drain(app) == ["sent"]
    [card] = slack.messages_to(SUPPORTER)
    with system_ctx(app).session as session:
        offer = session.scalars(select(Offer)).one()
    buttons = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("offer_accept", str(offer.id)),
        ("offer_decline", str(offer.id)),
    ]
    seen = said(card)
    assert request["alias"] in seen and TOPIC in seen and "Urgent" in seen
    expires = offer.expires_at.replace(tzinfo=START.tzinfo)  # London is on UTC in March
    assert f"Wed 4 Mar, {expires:%H:%M} (Europe/London)" in seen
    assert NOTE not in seen and REQUESTER not in seen


def test_the_requesters_booking_message_signposts_help_and_hides_the_topic(
    app, client, world, slack
):
    book(client, world)
    assert sorted(drain(app)) == ["sent", "sent"]
    [message] = slack.messages_to(REQUESTER)
    seen = said(message)
    assert "not a crisis or emergency service" in seen
    assert "Samaritans &amp; Friends" in seen and "116 123" in seen and "Any time" in seen
    assert "<https://www.samaritans.org/>" in seen and "988 Lifeline" in seen
    assert "call or text 988" in seen and "Ash" in seen
    assert TOPIC not in seen.lower() and NOTE not in seen
    assert message["blocks"][-1]["type"] == "section", "the resources close the message"
    assert "Thu 5 Mar, 08:00\u201308:45 (Europe/London)" in seen


def test_both_sides_get_the_invite_as_a_calendar_file(app, client, world, slack):
    booking = book(client, world)["booking"]
    drain(app)
    for user in (SUPPORTER, REQUESTER):
        [upload] = slack.uploads_to(user)
        assert upload.filename == "peer-chat.ics"
        calendar = icalendar.Calendar.from_ical(upload.content)
        [event] = calendar.walk("VEVENT")
        assert str(calendar["METHOD"]) == "PUBLISH" and str(event["SUMMARY"]) == "Peer chat"
        assert str(event["UID"]) == booking["calendar_uid"] and int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART").isoformat() == "2026-03-05T08:00:00+00:00"
        assert TOPIC not in upload.content.decode().lower()


def test_a_failed_upload_still_counts_the_message_as_sent(app, client, world, slack, caplog):
    slack.server_error(UPLOAD)
    book(client, world)
    with caplog.at_level(logging.WARNING):
        assert sorted(drain(app)) == ["sent", "sent"]
    assert len(slack.messages_to(REQUESTER)) == 1 and len(slack.messages_to(SUPPORTER)) == 1
    assert len(slack.uploads) == 1, "one side's invite failed; the other's went through"
    assert "sent without its calendar invite" in caplog.text
    assert_no_identity(caplog.text)


def test_rate_limit_retries_exactly_when_slack_says(app, client, world, slack, clock, caplog):
    caplog.set_level(logging.DEBUG)
    slack.rate_limit("chat.postMessage", retry_after=7)
    ask(client, world)
    assert drain(app) == ["retry"]
    [row] = rows(app, kind="offer_made")
    assert row.next_attempt_at - clock.now() == timedelta(seconds=7)
    assert "rate limited" in row.last_error
    clock.advance(seconds=6)
    assert drain(app) == []
    clock.advance(seconds=1)
    assert drain(app) == ["sent"]
    assert len(slack.messages_to(SUPPORTER)) == 1
    assert_no_identity(row.last_error, caplog.text)


def test_a_server_error_is_retried_with_backoff(app, client, world, slack, clock):
    slack.server_error("conversations.open")
    ask(client, world)
    assert drain(app) == ["retry"]
    [row] = rows(app, kind="offer_made")
    assert row.last_error == "Slack answered HTTP 500"
    assert timedelta(seconds=15) <= row.next_attempt_at - clock.now() <= timedelta(seconds=30)
    clock.advance(seconds=30)
    assert drain(app) == ["sent"]


def test_slack_unreachable_is_retried(app, client, world, api_url):
    api_url["url"] = f"http://127.0.0.1:{closed_port()}/api/"
    ask(client, world)
    assert drain(app) == ["retry"]
    [row] = rows(app, kind="offer_made")
    assert row.last_error.startswith("could not talk to Slack")


def test_a_revoked_token_is_a_dead_letter_at_once(app, client, world, slack, caplog):
    caplog.set_level(logging.DEBUG)
    slack.token = "xoxb-after-reinstall"  # ours no longer works: Slack says invalid_auth
    ask(client, world)
    assert drain(app) == ["dead"]
    [row] = rows(app, kind="offer_made")
    assert "invalid_auth" in row.last_error and "reinstall" in row.last_error
    assert slack.messages_to(SUPPORTER) == []
    assert_no_identity(row.last_error, caplog.text)


TOKEN_REFUSED = "Slack refused the bot token ({}): reinstall the Slack app"
UNREACHABLE = "Slack cannot reach this recipient ({})"


@pytest.mark.parametrize(
    ("method", "error", "outcome", "detail"),
    [
        ("conversations.open", "user_not_found", "dead", UNREACHABLE),
        ("conversations.open", "cannot_dm_bot", "dead", UNREACHABLE),
        ("chat.postMessage", "channel_not_found", "dead", UNREACHABLE),
        ("chat.postMessage", "user_disabled", "dead", UNREACHABLE),
        ("chat.postMessage", "account_inactive", "dead", TOKEN_REFUSED),
        ("conversations.open", "token_revoked", "dead", TOKEN_REFUSED),
        ("chat.postMessage", "not_authed", "dead", TOKEN_REFUSED),
        ("conversations.open", "missing_scope", "dead", "the Slack app lacks a permission ({})"),
        ("chat.postMessage", "restricted_action", "dead", "Slack refused the message ({})"),
        ("chat.postMessage", "internal_error", "retry", "Slack had a passing fault ({})"),
        ("chat.postMessage", "ratelimited", "retry", "Slack asked us to slow down"),
    ],
)
def test_slack_errors_are_retried_or_dead_as_their_code_says(
    app, client, world, slack, method, error, outcome, detail
):
    slack.fail(method, error)
    ask(client, world)
    assert drain(app) == [outcome]
    [row] = rows(app, kind="offer_made")
    assert row.last_error.startswith(detail.format(error))
    assert_no_identity(row.last_error)


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (TimeoutError("timed out"), "Slack did not answer in time"),
        (URLError(TimeoutError("timed out")), "Slack did not answer in time"),
        (http.client.RemoteDisconnected("gone"), "could not talk to Slack (RemoteDisconnected)"),
        (http.client.IncompleteRead(b"{"), "could not talk to Slack (IncompleteRead)"),
    ],
)
def test_network_faults_are_retried(error, detail):
    result = failure(error)
    assert (result.delivered, result.permanent, result.detail) == (False, False, detail)


def test_no_slack_address_means_the_channel_does_not_reach(app, client, world, slack):
    world.add_supporter("Birch", weekly=EVERY_WEEKDAY, topics=[TOPIC])
    ask(client, world, requester={"platform": "teams", "subject": "aad-1"})
    channel = runtime(app).channels["slack"]
    notes = [deliveries.notification_of(row) for row in rows(app, kind="offer_made")]
    reached = {n.supporter_id: channel.can_reach(n) for n in notes}
    assert sorted(reached.values()) == [False, True], "Birch has no Slack contact"
    assert sorted(drain(app)) == ["dead", "sent"]
    dead = rows(app, status="dead")[0]
    assert dead.last_error == "no channel reaches this recipient"


def test_nobody_free_tells_a_slack_requester_with_the_resources(app, client, slack):
    world = make_world(app, client, crisis_resources=RESOURCES)
    ask(client, world)
    assert drain(app) == ["sent"]
    [message] = slack.messages_to(REQUESTER)
    assert "No peer supporter is free right now" in said(message)
    assert "988 Lifeline" in said(message) and TOPIC not in said(message).lower()


def test_dm_ids_are_remembered_between_messages(app, client, world, slack):
    ask(client, world)
    ask(client, world)
    assert drain(app) == ["sent", "sent"]
    assert len(slack.calls("conversations.open")) == 1


def note(kind: str, audience: str = "supporter", **data: Any) -> Notification:
    booking = {
        "uid": "b-1@peerline",
        "sequence": 0,
        "starts_at": "2026-03-05T14:00:00+00:00",
        "ends_at": "2026-03-05T14:45:00+00:00",
        "mode": "video",
    }
    snapshot: dict[str, Any] = {
        "program": {"name": "Acme <Corp>", "slug": "acme"},
        "time_zone": "Europe/London",
        "not_a_crisis": "Not a crisis service.",
        "crisis_resources": RESOURCES,
        "request_alias": "Blue Otter",
        "supporter_alias": "Grey Heron",
        "other_alias": "Grey Heron",
        "topic": TOPIC,
        "mode": "text",
        "language": "en",
        "is_urgent": True,
        "expires_at": "2026-03-04T09:10:00+00:00",
        "wait_minutes": 60,
        "can_book": True,
        "booking": booking,
        "method": "REQUEST",
        "cancelled_by": "supporter",
        "minutes_before": 15,
        "join_url": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_1%40thread.v2/0",
        "training": "Peer support basics",
        "expires_on": "2026-04-01",
        "days_left": 28,
    }
    return Notification(
        dedupe_key=f"{kind}:{uuid.UUID(int=7)}",
        program_id=uuid.uuid4(),
        audience=audience,  # type: ignore[arg-type]
        kind=kind,
        data=snapshot | data,
    )


def test_offer_id_comes_from_the_dedupe_key():
    assert offer_id_of(note("offer_made")) == str(uuid.UUID(int=7))
    with pytest.raises(ValueError, match="not about an offer"):
        offer_id_of(Notification(**{**note("offer_made").__dict__, "dedupe_key": "matched:x"}))
    with pytest.raises(ValueError):
        offer_id_of(Notification(**{**note("offer_made").__dict__, "dedupe_key": "offer_made:"}))


@pytest.mark.parametrize("kind", [*sorted(kinds.KINDS), "a_plugin_kind"])
@pytest.mark.parametrize("audience", ["supporter", "requester"])
def test_every_kind_renders_blocks_slack_accepts(kind, audience, slack):
    text, blocks = render(note(kind, audience, request_alias="<!channel> & co"))
    client = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])
    assert client.chat_postMessage(channel="DU1", text=text, blocks=blocks)["ok"]
    shown = text + json.dumps(blocks)
    assert "<!channel>" not in shown and "Acme <Corp>" not in shown
    has_crisis = "Not a crisis service." in text and "116 123" in json.dumps(blocks[-1])
    assert has_crisis == (audience == "requester")
    if audience == "requester" and kind != "offer_made":
        assert TOPIC not in shown


def test_times_are_shown_in_the_readers_zone():
    booking = {"starts_at": "2026-03-05T14:00:00+00:00", "ends_at": "2026-03-05T14:45:00Z"}
    assert span(booking, ZoneInfo("Europe/London")) == "Thu 5 Mar, 14:00\u201314:45 (Europe/London)"
    assert span(booking, ZoneInfo("America/New_York")).startswith("Thu 5 Mar, 09:00\u201309:45")
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"
