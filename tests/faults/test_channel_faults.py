"""Slack, Teams and the SMTP relay failing as real ones do: every message still arrives once.

Each platform is a real server on loopback and each channel's own client code runs against
it, with a short client timeout so that a held answer is a timeout. The outbox retries; the
fakes count what they accepted per message (the offer id in a card, the Message-ID of a mail).

What "exactly once" can mean when a send times out (documented here and tested below):
- A fault before the platform accepted the message (429, 5xx, a refused or cut connection,
  a timeout while it had not yet taken the message) is retried until sent: once, never lost.
- Two workers never send one delivery at the same time (an advisory lock per delivery), and a
  delivery recorded as sent is never sent again.
- A timeout AFTER the platform accepted the message is indistinguishable, for the sender, from
  one before: PeerLine retries, so the recipient gets one extra copy per such timeout; never
  none. Slack's chat.postMessage and the Bot Connector take no idempotency key, and SMTP has
  none. The copies are recognisable: an e-mail always carries the same Message-ID (derived
  from the delivery's dedupe key, so mail stores that de-duplicate show it once), and on
  Slack and Teams the copies are the same card for the same offer, whose buttons act once.
- An SMTP 5xx reply is a permanent refusal (RFC 5321): a dead letter for an admin, never
  retried (tests/integration/test_email_channel.py); 4xx replies and cut connections are
  retried like the chat platforms' 429s and 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from slack_sdk import WebClient

from core.channels.email_messages import message_id
from core.clock import FrozenClock
from core.models import Delivery
from core.notify import deliveries
from core.runtime import runtime
from integrations.slack.channel import SDK_LOG, SlackChannel
from integrations.teams.channel import TeamsChannel
from integrations.teams.connector import BotConnector
from tests.conftest import make_app
from tests.fakes.botconnector import FakeBotConnector
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import FakeSMTP
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body
from tests.integration.test_deliveries import rows
from tests.teams.conftest import entra_on_loopback, tokens_from
from tests.teams.test_channel import chat_with_bot

CLIENT_TIMEOUT = 1  # second every channel's client waits for an answer
TOKEN = "xoxb-faults-test"
SENDER = "PeerLine <peerline@acme.test>"
SLACK_USER, TEAMS_USER, TEAMS_CHAT, MAILBOX = "U0ASH", "aad-birch", "a:birch", "cedar@acme.test"


@dataclass
class Platforms:
    """The three fakes and the app whose channels talk to them."""

    app: Flask
    clock: FrozenClock
    slack: FakeSlack
    teams: FakeBotConnector
    smtp: FakeSMTP
    service: str

    def ask(self) -> None:
        made = self.app.test_client().post(
            "/api/v1/requests", json=request_body(), headers=auth(self.service)
        )
        assert made.status_code == 201, made.json

    def copies(self) -> dict[tuple[str | None, str], int]:
        """How many times a platform accepted each decided message."""
        return {(row.channel, row.dedupe_key): self._copies(row) for row in rows(self.app)}

    def _copies(self, row: Delivery) -> int:
        offer_id = row.dedupe_key.split(":", 1)[1]  # offer_made:<offer id>, in every card
        if row.channel == "slack":
            return _mentions(self.slack.messages_to(SLACK_USER), offer_id)
        if row.channel == "teams":
            return _mentions(self.teams.activities[TEAMS_CHAT], offer_id)
        wanted = message_id(row.dedupe_key, SENDER)
        return sum(str(m.message["Message-ID"]) == wanted for m in self.smtp.received)


def _mentions(messages: list[dict[str, Any]], offer_id: str) -> int:
    return sum(offer_id in json.dumps(message) for message in messages)


@pytest.fixture
def platforms(
    database_url: str, tmp_path: Path, clock: FrozenClock, smtp: FakeSMTP
) -> Iterator[Platforms]:
    with (
        FakeSlack(token=TOKEN) as slack,
        entra_on_loopback(tmp_path) as (aad, session, certificates),
        FakeBotConnector(aad, certificates=certificates) as teams,
    ):
        connector = BotConnector(
            tokens=tokens_from(aad, session),
            allowed_hosts=frozenset({"127.0.0.1"}),
            session=session,
            timeout=CLIENT_TIMEOUT,
        )

        def slack_client() -> WebClient:
            return WebClient(
                token=TOKEN,
                base_url=slack.url,
                retry_handlers=[],
                timeout=CLIENT_TIMEOUT,
                logger=SDK_LOG,
            )

        plugins = [
            ("slack-test", lambda host: host.add_channel(SlackChannel(host.runtime, slack_client))),
            ("teams-test", lambda host: host.add_channel(TeamsChannel(host.runtime, connector))),
        ]
        app = make_app(
            database_url,
            tmp_path,
            clock,
            plugins=plugins,
            smtp_url=smtp.url(),
            smtp_from=SENDER,
            smtp_timeout_seconds=CLIENT_TIMEOUT,
        )
        world = make_world(app, app.test_client(), policy={"offer_batch_size": 3})
        for alias, platform, address in (
            ("Ash", "slack", SLACK_USER),
            ("Birch", "teams", TEAMS_USER),
            ("Cedar", "email", MAILBOX),
        ):
            world.add_supporter(
                alias, weekly=EVERY_WEEKDAY, contacts=[{"platform": platform, "address": address}]
            )
        chat_with_bot(app, teams, TEAMS_USER, TEAMS_CHAT)
        yield Platforms(app, clock, slack, teams, smtp, world.service)
        runtime(app).engine.dispose()


def attempt_due(app: Flask) -> list[str]:
    """What a worker does with everything due now."""
    current = runtime(app)
    return [deliveries.attempt(current, d).status for d in deliveries.due(current)]


def deliver_all(platforms: Platforms) -> None:
    """Workers until nothing is pending, the clock moved to each retry time (never slept)."""
    for _ in range(10):
        attempt_due(platforms.app)
        waiting = [r for r in rows(platforms.app) if r.status == "pending"]
        if not waiting:
            return
        soonest = min(r.next_attempt_at for r in waiting)
        platforms.clock.advance(seconds=max((soonest - platforms.clock.now()).total_seconds(), 0))
    raise AssertionError("deliveries still pending after ten rounds of retries")


def fault_round(platforms: Platforms, break_: Callable[[], None], heal: Callable[[], None]) -> None:
    """One request, its three offers all failing once as scripted, then sent."""
    break_()
    platforms.ask()
    assert attempt_due(platforms.app) == ["retry"] * 3, [
        (r.channel, r.last_error) for r in rows(platforms.app, status="pending")
    ]
    heal()
    deliver_all(platforms)


def test_429s_5xx_and_timeouts_before_acceptance_deliver_every_message_once(
    platforms: Platforms,
) -> None:
    slack, teams, smtp = platforms.slack, platforms.teams, platforms.smtp

    def rate_limited() -> None:
        slack.rate_limit("chat.postMessage", retry_after=7)
        teams.fail_next(429, retry_after="9")
        smtp.rcpt_reply = "451 4.7.1 too many messages, try again later"

    def server_errors() -> None:
        slack.server_error("chat.postMessage", status=503)
        teams.fail_next(500)
        smtp.drop_on = "DATA"  # the relay went away mid-transaction

    def not_answering() -> None:
        slack.stall("chat.postMessage")
        teams.stall_next()
        smtp.rearm()
        smtp.stall = True

    def heal() -> None:
        smtp.rcpt_reply, smtp.drop_on, smtp.stall = None, None, False
        for fake in (slack, teams, smtp):
            fake.release()

    for break_ in (rate_limited, server_errors, not_answering):
        fault_round(platforms, break_, heal)
    sent = rows(platforms.app)
    assert len(sent) == 9 and {r.status for r in sent} == {"sent"}
    assert {r.channel for r in sent} == {"slack", "teams", "email"}
    assert set(platforms.copies().values()) == {1}, platforms.copies()
    assert {r.attempts for r in sent} == {2}, "each failed exactly once, then went through"


def test_a_timeout_after_acceptance_costs_one_extra_copy_and_loses_nothing(
    platforms: Platforms,
) -> None:
    slack, teams, smtp = platforms.slack, platforms.teams, platforms.smtp

    def accepted_unanswered() -> None:
        slack.stall("chat.postMessage", accepted=True)
        teams.stall_next(accepted=True)
        smtp.rearm()
        smtp.hold_reply = True

    def heal() -> None:
        smtp.hold_reply = False
        for fake in (slack, teams, smtp):
            fake.release()

    fault_round(platforms, accepted_unanswered, heal)
    sent = rows(platforms.app)
    assert {(r.status, r.attempts) for r in sent} == {("sent", 2)}
    assert set(platforms.copies().values()) == {2}, "the timed-out send arrived, and its retry"
    mails = {str(m.message["Message-ID"]) for m in smtp.received}
    assert len(smtp.received) == 2 and len(mails) == 1, "both copies are one message to a mailbox"
    assert len(sent) == 3 and attempt_due(platforms.app) == [], "and nothing more is sent"


def test_a_job_handed_out_twice_sends_its_message_once(platforms: Platforms) -> None:
    """The queue may hold two jobs for one delivery (the commit's and the tick's)."""
    platforms.ask()
    deliver_all(platforms)
    current = runtime(platforms.app)
    for row in rows(platforms.app):
        assert deliveries.attempt(current, row.id).status == "not_due"
    assert set(platforms.copies().values()) == {1}
