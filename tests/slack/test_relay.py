"""The anonymous relay end to end on loopback: DM lines both ways, stripping, end, reveal."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest
from sqlalchemy import select

from core.models import Delivery
from core.runtime import runtime
from core.services import chats, lifecycle, programs, requests, roster
from integrations.slack import relay_text
from integrations.slack.plugin import init_app
from integrations.slack.storage import MESSAGES, REVEALS
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.fakes.slack import FakeSlack
from tests.helpers import EVERY_WEEKDAY, issue_token, make_world, system_ctx
from tests.integration.test_deliveries import drain
from tests.slack.test_flow import ASH, ASKER, BIRCH, click, slash, submit, updates_to
from tests.slack.test_wiring import BOT_TOKEN, SIGNING_SECRET, signed

OTHER_ASKER = "U0OTHERASK"
RESOURCES = [{"locale": "en", "name": "Samaritans", "contact": "Call 116 123"}]
_stamps = itertools.count(1)


@pytest.fixture(autouse=True)
def _only_our_slack_settings(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def slack():
    with FakeSlack(token=BOT_TOKEN) as fake:
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
    world = make_world(
        application,
        application.test_client(),
        policy={"offer_batch_size": 2},
        crisis_resources=RESOURCES,
    )
    for alias, user in (("Ash", ASH), ("Birch", BIRCH)):
        world.add_supporter(
            alias, weekly=EVERY_WEEKDAY, contacts=[{"platform": "slack", "address": user}]
        )
    yield application
    runtime(application).engine.dispose()


# -- helpers ----------------------------------------------------------------------------------


def write(app, user: str, text: str = "", *, event_id: str | None = None, **extra):
    """A message.im event as Slack sends it, signed; `extra` adds or overrides event fields."""
    event = {
        "type": "message",
        "channel": f"D{user}",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"1772600000.{next(_stamps):06d}",
        "client_msg_id": str(uuid.uuid4()),
    } | extra
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": 1_772_600_000,
            "event": event,
        }
    )
    response = app.test_client().post("/slack/events", data=body, headers=signed(body))
    assert response.status_code == 200
    return body


def card_of(slack, user: str, nth: int = 0) -> dict:
    cards = [m for m in slack.messages_to(user) if relay_text.END in json.dumps(m)]
    return cards[nth]


def said_to(slack, user: str) -> str:
    return json.dumps(slack.messages_to(user), ensure_ascii=False)


def lines_to(slack, user: str, alias: str) -> list[str]:
    """The relayed lines a user got: the sections that start with the other side's alias."""
    texts = [
        (b.get("text") or {}).get("text", "") for m in slack.messages_to(user) for b in m["blocks"]
    ]
    return [t for t in texts if t.startswith(f"*{alias}*: ")]


def ask(app, slack, user: str):
    """/peer and the modal sent back: talk now, by text, about stress."""
    assert slash(app.test_client(), user=user).status_code == 200
    view = slack.calls("views.open")[-1].params["view"]
    fields = {"topic": "stress", "urgency": "now", "mode": "text", "language": "en"}
    return submit(app.test_client(), view, user=user, **fields)


def start_chat(app, slack, asker: str = ASKER) -> tuple[uuid.UUID, str]:
    """A talk-now request from `asker` in Slack, accepted by Ash: the request id and its alias."""
    before = len([m for m in slack.messages_to(ASH) if "offer_accept" in json.dumps(m)])
    assert ask(app, slack, user=asker).status_code == 200
    drain(app)
    offers = [m for m in slack.messages_to(ASH) if "offer_accept" in json.dumps(m)]
    assert len(offers) == before + 1
    assert click(app.test_client(), ASH, "offer_accept", offers[-1]).status_code == 200
    drain(app)
    request_id = chat_id(card_of(slack, ASH, -1))
    return request_id, request_of(app, request_id).alias


def chat_id(card: dict) -> uuid.UUID:
    [buttons] = [b for b in card["blocks"] if b.get("block_id") == "relay"]
    return uuid.UUID(buttons["elements"][0]["value"])


def request_of(app, request_id: uuid.UUID):
    ctx = system_ctx(app)
    with ctx.session:
        return requests.view(ctx, requests.get_request(ctx, request_id))


def plugin_rows(app) -> str:
    """Everything the Slack plugin keeps about cards and reveals."""
    with runtime(app).engine.connect() as connection:
        rows = [*connection.execute(select(MESSAGES)), *connection.execute(select(REVEALS))]
    return json.dumps([[str(v) for v in row] for row in rows])


def thread_of(slack, user: str, request_id: uuid.UUID) -> str:
    """The ts of the chat card this user got for this chat: its thread is the chat's."""
    [card] = [
        m
        for m in slack.messages_to(user)
        if relay_text.END in json.dumps(m) and str(request_id) in json.dumps(m)
    ]
    return str(card["posted_ts"])


def stored_deliveries(app) -> str:
    ctx = system_ctx(app)
    with ctx.session as session:
        return json.dumps([(d.dedupe_key, d.data) for d in session.scalars(select(Delivery))])


# -- start ------------------------------------------------------------------------------------


def test_accepting_in_slack_starts_the_relay_on_both_sides(app, slack):
    request_id, alias = start_chat(app, slack)
    to_ash, to_asker = said_to(slack, ASH), said_to(slack, ASKER)
    assert f"You are now talking with *{alias}*" in to_ash
    assert "*Ash* is here to talk with you" in to_asker
    assert "not a crisis" in to_asker and "Samaritans" in to_asker
    assert relay_text.REVEAL in json.dumps(card_of(slack, ASKER))
    assert relay_text.REVEAL not in json.dumps(card_of(slack, ASH))
    assert ASKER not in to_ash
    assert request_of(app, request_id).status == "in_chat"
    assert ASKER not in plugin_rows(app), "no Slack table holds the requester or their DM"


def test_a_chat_card_slack_refused_is_retried_and_no_line_overtakes_it(app, slack, clock):
    assert ask(app, slack, user=ASKER).status_code == 200
    drain(app)
    click(app.test_client(), ASH, "offer_accept", slack.messages_to(ASH)[0])
    slack.fail("chat.postMessage", "internal_error", times=3)  # "matched" and both chat cards
    drain(app)
    assert relay_text.END not in said_to(slack, ASKER) + said_to(slack, ASH)
    clock.advance(seconds=5)
    write(app, ASKER, "hello?")
    drain(app)
    assert "hello?" not in said_to(slack, ASH), "a line never arrives before its chat's card"
    clock.advance(minutes=5)
    drain(app)
    assert relay_text.REVEAL in json.dumps(card_of(slack, ASKER))
    to_ash = [json.dumps(m) for m in slack.messages_to(ASH)]
    card_at = next(i for i, m in enumerate(to_ash) if relay_text.END in m)
    line_at = next(i for i, m in enumerate(to_ash) if "*: hello?" in m)
    assert card_at < line_at


def test_lines_pass_both_ways_under_aliases_only(app, slack):
    _request_id, alias = start_chat(app, slack)
    write(app, ASKER, "hello, it's been a rough week & I'm tired")
    drain(app)
    [line] = lines_to(slack, ASH, alias)
    assert line == f"*{alias}*: hello, it's been a rough week &amp; I'm tired"
    write(app, ASH, "I'm here. Take your time.")
    drain(app)
    assert lines_to(slack, ASKER, "Ash") == ["*Ash*: I'm here. Take your time."]
    assert ASKER not in said_to(slack, ASH)
    assert ASKER not in stored_deliveries(app)


def test_mentions_profile_links_and_files_are_not_passed_on(app, slack):
    _request_id, alias = start_chat(app, slack)
    text = (
        "<!here> <!channel> ask <@U0BIRCH> or <@W0ABCDEF12|jo> in <#C0FINANCE|team-finance> "
        "<!subteam^S0HR|@hr-team>, see <https://acme.slack.com/team/U0ASKER|my profile> and "
        "<https://app.slack.com/client/T0TEAM/D0|this>, mail "
        "<mailto:jo@acme.example|jo@acme.example> or read "
        "<https://example.org/help|the help page> &lt;3"
    )
    write(app, ASKER, text, subtype="file_share", files=[{"id": "F0SECRET", "name": "me.png"}])
    drain(app)
    [line] = lines_to(slack, ASH, alias)
    for gone in ("U0BIRCH", "W0ABCDEF12", "team-finance", "hr-team", "slack.com", "U0ASKER"):
        assert gone not in line
    for gone in ("jo@acme.example", "<!here>", "<!channel>", "F0SECRET", "me.png", "<@"):
        assert gone not in line
    assert "the help page (https://example.org/help)" in line and "&lt;3" in line
    assert relay_text.FILE_NOTE in line and "@someone" in line
    assert relay_text.FILES_KEPT in said_to(slack, ASKER), "the sender learns the file stayed"


def test_a_stranger_a_bot_and_edits_pass_nothing_on(app, slack):
    start_chat(app, slack)
    before_ash, before_stranger = len(slack.messages_to(ASH)), len(slack.messages_to("U0STRANGE"))
    write(app, "U0STRANGE", "hello?")
    write(app, ASKER, "from a bot", bot_id="B0OTHER")
    write(app, ASKER, "edited", subtype="message_changed")
    write(app, ASKER, "in a channel", channel_type="channel", channel="C0GENERAL")
    drain(app)
    assert len(slack.messages_to(ASH)) == before_ash
    assert len(slack.messages_to("U0STRANGE")) == before_stranger == 0


def test_a_retried_event_is_passed_on_once(app, slack):
    _request_id, alias = start_chat(app, slack)
    body = write(app, ASKER, "just once", event_id="Ev0RETRY")
    headers = signed(body) | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert app.test_client().post("/slack/events", data=body, headers=headers).status_code == 200
    event = json.loads(body)["event"]
    write(
        app,
        ASKER,
        "just once",
        event_id="Ev0OTHERID",
        ts=event["ts"],
        client_msg_id=event["client_msg_id"],
    )
    drain(app)
    assert lines_to(slack, ASH, alias) == [f"*{alias}*: just once"]


def test_a_long_message_arrives_whole_in_parts(app, slack):
    _request_id, alias = start_chat(app, slack)
    words = " ".join(f"word{n}&" for n in range(1500))
    write(app, ASKER, words.replace("&", "&amp;"))
    drain(app)
    parts = lines_to(slack, ASH, alias)
    assert len(parts) > 1 and all(len(p) <= 3000 for p in parts)
    joined = " ".join(p.removeprefix(f"*{alias}*: ") for p in parts)
    assert sorted(joined.split()) == sorted(words.replace("&", "&amp;").split())


# -- end ------------------------------------------------------------------------------------


def test_the_supporter_ends_the_chat_and_the_requester_is_asked_for_feedback(app, slack):
    request_id, _alias = start_chat(app, slack)
    assert click(app.test_client(), ASH, relay_text.END, card_of(slack, ASH)).status_code == 200
    assert "You ended the chat" in updates_to(slack, ASH)[-1]
    shown = request_of(app, request_id)
    assert (shown.status, shown.outcome) == ("closed", "completed")
    drain(app)
    to_asker = said_to(slack, ASKER)
    assert "The chat has ended. *Ash* ended the chat." in to_asker
    assert "How was your peer chat?" in to_asker and "Samaritans" in to_asker
    assert "The chat has ended. You ended the chat." in said_to(slack, ASH)
    before = len(slack.messages_to(ASH))
    write(app, ASKER, "are you still there?")
    drain(app)
    assert len(slack.messages_to(ASH)) == before, "after the end nothing is passed on"
    click(app.test_client(), ASH, relay_text.END, card_of(slack, ASH))
    assert relay_text.NOT_RUNNING in updates_to(slack, ASH)[-1]
    asked = [m for m in slack.messages_to(ASKER) if "How was your peer chat?" in m["text"]]
    assert len(asked) == 1


def test_the_requester_ends_the_chat(app, slack):
    request_id, _alias = start_chat(app, slack)
    click(app.test_client(), ASKER, relay_text.END, card_of(slack, ASKER))
    assert request_of(app, request_id).outcome == "completed"
    drain(app)
    assert "The chat has ended. You ended the chat." in said_to(slack, ASKER)
    assert "How was your peer chat?" in said_to(slack, ASKER)
    assert "ended the chat" in said_to(slack, ASH)


def test_a_chat_the_core_closes_ends_the_relay_too(app, slack, clock):
    request_id, _alias = start_chat(app, slack)
    clock.advance(hours=25)
    ctx = system_ctx(app)
    with ctx.session:
        assert lifecycle.close_ended_sessions(ctx) == 1
    assert request_of(app, request_id).status == "closed"
    drain(app)
    assert "The chat has ended. Nothing you write here now" in said_to(slack, ASH)
    assert "The chat has ended. Nothing you write here now" in said_to(slack, ASKER)
    before = len(slack.messages_to(ASH))
    write(app, ASKER, "hello?")
    drain(app)
    assert len(slack.messages_to(ASH)) == before


# -- reveal -----------------------------------------------------------------------------------


def test_only_the_requester_can_reveal_who_they_are_and_only_once(app, slack):
    request_id, alias = start_chat(app, slack)
    requester_card = card_of(slack, ASKER)
    click(app.test_client(), ASH, relay_text.REVEAL, requester_card)
    assert f"<@{ASKER}>" not in said_to(slack, ASH)
    assert relay_text.REQUESTER_ONLY in said_to(slack, ASH)
    click(app.test_client(), ASKER, relay_text.REVEAL, requester_card)
    assert said_to(slack, ASH).count(f"<@{ASKER}>") == 2  # in the blocks and the fallback text
    [told] = [m for m in slack.messages_to(ASH) if f"<@{ASKER}>" in json.dumps(m)]
    assert f"*{alias}* chose to tell you who they are" in told["text"]
    assert "You told *Ash* who you are" in updates_to(slack, ASKER)[-1]
    click(app.test_client(), ASKER, relay_text.REVEAL, requester_card)
    assert relay_text.ALREADY_TOLD in said_to(slack, ASKER)
    assert said_to(slack, ASH).count(f"<@{ASKER}>") == 2
    assert str(request_id) in plugin_rows(app)
    drain(app)
    assert ASKER not in stored_deliveries(app), "the reveal never rests in the outbox"


def test_a_reveal_slack_refuses_can_be_tried_again(app, slack):
    start_chat(app, slack)
    slack.fail("chat.postMessage", "ratelimited")
    click(app.test_client(), ASKER, relay_text.REVEAL, card_of(slack, ASKER))
    assert relay_text.NOT_TOLD in said_to(slack, ASKER)
    click(app.test_client(), ASKER, relay_text.REVEAL, card_of(slack, ASKER))
    assert f"<@{ASKER}>" in said_to(slack, ASH)


# -- one supporter, two chats -----------------------------------------------------------------


def test_a_supporter_in_two_chats_writes_in_each_card_thread(app, slack):
    first, first_alias = start_chat(app, slack)
    second, second_alias = start_chat(app, slack, asker=OTHER_ASKER)
    before = len(slack.messages_to(OTHER_ASKER))
    write(app, ASH, "which of you?")
    drain(app)
    assert relay_text.PICK_A_THREAD in said_to(slack, ASH)
    assert lines_to(slack, ASKER, "Ash") == lines_to(slack, OTHER_ASKER, "Ash") == []
    thread = thread_of(slack, ASH, second)
    write(app, ASH, "hello second", thread_ts=thread)
    drain(app)
    assert lines_to(slack, OTHER_ASKER, "Ash") == ["*Ash*: hello second"]
    assert lines_to(slack, ASKER, "Ash") == []
    assert len(slack.messages_to(OTHER_ASKER)) == before + 1
    click(app.test_client(), ASH, relay_text.END, card_of(slack, ASH, 1))
    write(app, ASH, "too late", thread_ts=thread)
    assert relay_text.NOT_RUNNING in said_to(slack, ASH)
    write(app, ASH, "now only the first")
    drain(app)
    assert lines_to(slack, ASKER, "Ash") == ["*Ash*: now only the first"]
    assert request_of(app, first).status == "in_chat" and first_alias != second_alias


# -- cleaning, without Slack ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("hi <@U0123ABCD>", "hi @someone"),
        ("see <#C0123|secret-team>", "see #a-channel"),
        ("<!everyone> hello <!date^1392734382^{date}|Feb 18>", "hello Feb 18"),
        ("<https://acme.enterprise.slack.com/team/U1|me>", relay_text.SLACK_LINK),
        ("<https://files.slack.com/files-pri/T1-F1/x.png>", relay_text.SLACK_LINK),
        ("<slack://user?team=T1&amp;id=U1|open>", relay_text.OTHER_LINK),
        ("<mailto:a@b.example|a@b.example>", relay_text.EMAIL),
        ("<tel:116123|116 123>", "116 123"),
        ("<https://example.org>", "https://example.org"),
        ("<https://example.org|example.org>", "https://example.org"),
        ("my id is U0123ABCD9", "my id is @someone"),
        ("acme.slack.com/team/U0123ABCD", relay_text.SLACK_LINK),
        ("UNBELIEVABLE &amp; &lt;b&gt;", "UNBELIEVABLE & <b>"),
    ],
)
def test_clean(raw, clean):
    assert relay_text.clean(raw) == clean


def test_pieces_fit_a_section_once_escaped_and_lose_nothing():
    text = "<&> " * 2000
    parts = chats.pieces(text, budget=1000)
    assert all(chats.escaped_length(p) <= 1000 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert chats.pieces("short") == ["short"]
    assert chats.pieces("") == []


def test_the_deliveries_hold_only_aliases(app, slack):
    request_id, _alias = start_chat(app, slack)
    write(app, ASKER, "a line")
    drain(app)
    stored = stored_deliveries(app)
    assert f"relay_line:{request_id}:requester:" in stored
    assert ASKER not in stored and runtime(app).cipher.lookup_hash("slack", ASKER) not in stored
    assert "a line" not in stored, "a relayed line is forgotten once it is sent"


def test_an_offer_accepted_through_the_api_starts_the_chat_too(app, slack):
    assert ask(app, slack, user=ASKER).status_code == 200
    drain(app)
    ctx = system_ctx(app)
    with ctx.session:
        program = programs.get_program(ctx, "acme")
        ash = roster.find_by_contact(ctx, program.id, "slack", ASH)
        assert ash is not None
        ash_id = ash.id
    token = issue_token(app, "supporter", "acme", ash_id)
    headers = {"Authorization": f"Bearer {token}"}
    [offer] = app.test_client().get("/api/v1/offers?program=acme", headers=headers).json
    accepted = app.test_client().post(f"/api/v1/offers/{offer['id']}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.json
    drain(app)
    request_id = chat_id(card_of(slack, ASH))
    assert request_of(app, request_id).status == "in_chat"
    assert "*Ash* is here to talk with you" in said_to(slack, ASKER)
