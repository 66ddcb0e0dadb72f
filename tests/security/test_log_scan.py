"""The log scan: every channel driven end to end with every logger at DEBUG, nothing private.

The logging is set up as `peerline serve` and `peerline worker` set it up (core.logs.configure
at DEBUG), and then the root logger is put at DEBUG too, so every library's debug lines
(werkzeug's access log, urllib3, slack_sdk, slack_bolt, msal, SQLAlchemy) are made if the
set-up lets them through. Each record is scanned raw (its message, its arguments, its
traceback) and as the JSON line the formatter writes: no secret of the configuration, no
token, no requester identity, no note or chat line may appear in either.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
import requests
from flask import Flask
from werkzeug.serving import WSGIRequestHandler

from core.clock import FrozenClock
from core.console.session import COOKIE
from core.logs import JsonFormatter, configure
from core.runtime import runtime
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.console.conftest import EMAILS, PASSWORD, Console, add_accounts
from tests.fakes.lti_platform import lti_stack
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import fake_smtp_servers, make_certificates
from tests.helpers import EVERY_WEEKDAY, World, auth, issue_token, make_world, request_body
from tests.integration.test_deliveries import drain
from tests.live_server import live_server
from tests.lms.test_booking_page import CHOICES, NEW_YORK, booking_plugin
from tests.slack.test_flow import ASH, click, slash, submit
from tests.slack.test_relay import write
from tests.slack.test_wiring import BOT_TOKEN, SIGNING_SECRET, slack_app
from tests.teams.conftest import (
    CHAT,
    execute,
    from_person,
    introduce,
    post,
    teams_stack,
    teams_supporters,
)
from tests.teams.conftest import SECRET as TEAMS_SECRET
from tests.teams.test_relay import cards_in, press, say, texts


@dataclass
class Scan:
    """What every logger said during the test: the records and the JSON lines written."""

    records: list[logging.LogRecord] = field(default_factory=list)
    written: io.StringIO = field(default_factory=io.StringIO)

    def text(self) -> str:
        formatter = JsonFormatter()
        raw = [
            f"{r.name} {r.msg} {r.args!r} {r.getMessage()} {r.exc_text or ''} {vars(r)!r}"
            for r in self.records
        ]
        if any(r.exc_info for r in self.records):
            raw += [formatter.formatException(r.exc_info) for r in self.records if r.exc_info]
        return "\n".join(raw) + "\n" + self.written.getvalue()

    def assert_clean(self, *forbidden: str) -> None:
        text = self.text()
        for secret in forbidden:
            assert secret, "a marker must not be empty"
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:  # as in a URL too
                at = text.find(form)
                assert at < 0, f"{form!r} was logged: …{text[max(0, at - 300) : at + 100]}…"


class _Keep(logging.Handler):
    def __init__(self, scan: Scan) -> None:
        super().__init__(logging.DEBUG)
        self.scan = scan

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("mail.log"):  # the fake SMTP server's own chatter
            self.scan.records.append(record)


@pytest.fixture
def scan() -> Iterator[Scan]:
    """Production logging at DEBUG, then the root at DEBUG as well; everything restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    saved = {
        name: (found.level, found.filters[:])
        for name, found in logging.root.manager.loggerDict.items()
        if isinstance(found, logging.Logger)
    }
    scanned = Scan()
    configure("DEBUG")
    [json_lines] = root.handlers
    assert isinstance(json_lines, logging.StreamHandler)
    json_lines.setStream(scanned.written)
    root.setLevel(logging.DEBUG)
    root.addHandler(_Keep(scanned))
    try:
        yield scanned
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (was, filters) in saved.items():
            logging.getLogger(name).setLevel(was)
            logging.getLogger(name).filters[:] = filters


def served(app: Flask) -> AbstractContextManager[str]:
    """The app behind werkzeug's own server with its access log on, as `peerline demo` runs."""
    return live_server(app, request_handler=WSGIRequestHandler)


def app_secrets(app: Flask) -> list[str]:
    """The app's own keys: session signing and identity encryption."""
    settings = runtime(app).settings
    keys = [settings.secret_key, settings.encryption_keys, settings.metrics_token]
    return [k.get_secret_value() for k in keys if k is not None]


# -- Slack: a request with a note, a delivery Slack fails then takes, a relayed chat -----------

ASKER = "U0MARKASKER"  # the requester's Slack user id
NOTE = "MARKER-NOTE my manager shouted at me again"
LINE, REPLY = "MARKER-LINE it has been a hard week", "MARKER-REPLY I hear you"


def test_slack_request_relay_and_retried_delivery_log_nothing_private(
    scan: Scan,
    database_url: str,
    tmp_path: Path,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)  # a developer's own Slack settings must not change the run
    with FakeSlack(token=BOT_TOKEN) as slack:
        app = slack_app(database_url, tmp_path, clock, monkeypatch, slack.url)
        world = make_world(app, app.test_client())
        world.add_supporter(
            "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "slack", "address": ASH}]
        )
        client = app.test_client()
        assert slash(client, user=ASKER).status_code == 200
        view = slack.calls("views.open")[-1].params["view"]
        chosen = {"topic": "stress", "urgency": "now", "mode": "text", "language": "en"}
        assert submit(client, view, user=ASKER, note=NOTE, **chosen).status_code == 200
        slack.server_error("chat.postMessage")
        assert "retry" in drain(app), "Slack failed the offer; it will be sent again"
        clock.advance(minutes=2)
        assert "sent" in drain(app)
        [offer] = [m for m in slack.messages_to(ASH) if "offer_accept" in json.dumps(m)]
        assert click(client, ASH, "offer_accept", offer).status_code == 200
        drain(app)
        write(app, ASKER, LINE)
        write(app, ASH, REPLY)
        drain(app)
        assert LINE in json.dumps(slack.messages_to(ASH)), "the line was relayed"
        later = {**chosen, "urgency": "scheduled"}  # "Book a time": the note rides along
        assert submit(client, view, user=ASKER, note=NOTE, **later).status_code == 200
        secrets = [SIGNING_SECRET, BOT_TOKEN, *app_secrets(app)]
        runtime(app).engine.dispose()
    scan.assert_clean(*secrets, ASKER, NOTE, LINE, REPLY)


# -- Teams: a request with a note, the offer taken, a relayed line -----------------------------

AAD = "aad-marker-asker"  # the requester's Entra object id


def issued_tokens(connector: Any) -> list[str]:
    """Every access token the fake Entra ID gave our bot for the Connector."""
    return list(connector._aad._issued)  # the fake's own record


def test_teams_request_and_relay_log_nothing_private(
    scan: Scan, database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    with teams_stack(database_url, tmp_path, clock) as (app, keys, connector):
        teams_supporters(app, connector, keys, "Ash")
        introduce(app, keys, connector, AAD, CHAT)
        chosen = {"topic": "stress", "mode": "text", "language": "en", "note": NOTE}
        asked = from_person(
            connector.url, AAD, CHAT, id="1772999000001", **execute("peer_request", **chosen)
        )
        token = keys.token()
        assert post(app, asked, token).status_code == 200
        drain(app)
        offer = next(
            c for c in reversed(cards_in(connector, "a:Ash")) if "offer_accept" in json.dumps(c)
        )
        accept = next(a for a in offer["actions"] if a["verb"] == "offer_accept")
        press(
            app,
            keys,
            connector,
            "aad-ash",
            "a:Ash",
            "offer_accept",
            offer_id=accept["data"]["offer_id"],
        )
        drain(app)
        say(app, keys, connector, AAD, CHAT, LINE)
        say(app, keys, connector, "aad-ash", "a:Ash", REPLY)
        drain(app)
        assert any(LINE in text for text in texts(connector, "a:Ash")), "the line was relayed"
        secrets = [TEAMS_SECRET, token, *issued_tokens(connector), *app_secrets(app)]
    # the asker's 1:1 chat id names them to Teams as surely as their object id
    scan.assert_clean(*secrets, AAD, CHAT, "A Real Name", NOTE, LINE, REPLY)


# -- LTI: a launch, then the student books with an e-mail address, through a real server -------

STUDENT_SUB, STUDENT_MAIL = "a6f1-opaque-student", "marker.student@school.test"
SLOT = re.compile(r'name="slot" value="([^"]+)"')
PRIVATE = re.compile(r"(/lms/my/plr_[A-Za-z0-9_\-]+)")


def test_an_lti_launch_and_a_booking_with_email_log_nothing_private(
    scan: Scan, database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    plugins = (("lms-book", booking_plugin),)
    with lti_stack(database_url, tmp_path, clock, plugins, mail_folder=tmp_path / "mail") as stack:
        stack.register()
        world = World(
            stack.app, stack.client, slug="uni", admin=issue_token(stack.app, "admin", "uni")
        )
        world.add_supporter("Ash", weekly=EVERY_WEEKDAY, modes=["video"])
        form = stack.platform.authorize(stack.login())
        launched = stack.client.post("/lti/launch", data=form)
        assert launched.status_code == 303
        sealed = parse_qs(urlsplit(launched.headers["Location"]).query)["s"][0]
        with served(stack.app) as base, requests.Session() as browser:
            browser.trust_env = False
            choices = {"s": sealed, **CHOICES, "tz": NEW_YORK}
            times = browser.get(f"{base}/lms/book", params=choices)
            slot = SLOT.search(times.text)
            assert slot, times.text
            booked = browser.post(
                f"{base}/lms/book", data={**choices, "slot": slot.group(1), "email": STUDENT_MAIL}
            )
            [link] = set(PRIVATE.findall(booked.text))
            assert browser.get(base + link).status_code == 200
        drain(stack.app)
        assert list((tmp_path / "mail").glob("*.eml")), "the student was e-mailed"
        secrets = [
            form["id_token"],
            form["state"],
            sealed,
            link.rpartition("/")[2],
            *app_secrets(stack.app),
        ]
    scan.assert_clean(
        *secrets, STUDENT_SUB, STUDENT_MAIL, "sam@example.edu", "Sam Student", "opaque-login-hint"
    )


# -- the console: a wrong password, then the right one ----------------------------------------


def test_console_sign_in_with_a_password_logs_nothing_private(
    scan: Scan, database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    app = make_app(database_url, tmp_path, clock)
    world = make_world(app, app.test_client())
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    add_accounts(app, world)
    console = Console(app, world, clock)
    stranger = app.test_client()
    typo = "MARKER-almost my real password"
    assert (
        console.post(stranger, "/console/sign-in", email=EMAILS["admin"], password=typo).status_code
        == 401
    )
    client = console.client("admin")
    csrf = console.csrf(client, f"{console.base()}/")
    cookie = client.get_cookie(COOKIE, path="/console")
    assert cookie is not None
    assert client.get(f"{console.base()}/").status_code == 200
    secrets = [PASSWORD, typo, cookie.value, csrf, *app_secrets(app)]
    runtime(app).engine.dispose()
    scan.assert_clean(*secrets)


# -- the API: a request with a note and an e-mail, SMTP failing then taking it, the private link --

SUBJECT, SUPPORTER_MAIL = "U-MARKER-SUBJECT", "marker.supporter@acme.test"
SMTP_PASSWORD, METRICS_TOKEN = "marker-smtp-password", "marker-metrics-token-0123456789"


def test_an_api_request_with_a_note_and_a_retried_email_log_nothing_private(
    scan: Scan, database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    with fake_smtp_servers() as smtp:
        certificates = make_certificates(tmp_path / "tls")
        server = smtp(
            tls="starttls", certificates=certificates, credentials=("peerline", SMTP_PASSWORD)
        )
        app = make_app(
            database_url,
            tmp_path,
            clock,
            plugins=[("lms", lms_plugin)],
            smtp_url=server.url("peerline", SMTP_PASSWORD),
            smtp_from="PeerLine <peerline@acme.test>",
            smtp_ca_file=str(certificates.ca_file),
            metrics_token=METRICS_TOKEN,
        )
        world = make_world(app, app.test_client())
        world.add_supporter(
            "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "email", "address": SUPPORTER_MAIL}]
        )
        body = request_body(note=NOTE, requester={"platform": "slack", "subject": SUBJECT})
        with served(app) as base, requests.Session() as http:
            http.trust_env = False
            made = http.post(
                f"{base}/api/v1/requests",
                json={**body, "email": STUDENT_MAIL},
                headers=auth(world.service),
            )
            assert made.status_code == 201, made.text
            token = made.json()["token"]
            server.data_reply = "451 4.3.0 try later, " + SUPPORTER_MAIL
            assert "retry" in drain(app), "the relay failed the offer; it will be sent again"
            server.data_reply = None
            clock.advance(minutes=2)
            drain(app)
            assert http.get(f"{base}/lms/my/{token}").status_code == 200
            assert http.get(f"{base}/metrics", headers=auth(METRICS_TOKEN)).status_code == 200
            assert http.get(f"{base}/api/v1/requests/{made.json()['id']}", headers=auth(token)).ok
        assert any(SUPPORTER_MAIL in m.rcpt_tos for m in server.received), "the offer went out"
        secrets = [
            SMTP_PASSWORD,
            METRICS_TOKEN,
            token,
            world.service,
            world.admin,
            *app_secrets(app),
        ]
        runtime(app).engine.dispose()
    scan.assert_clean(*secrets, NOTE, SUBJECT, STUDENT_MAIL, SUPPORTER_MAIL)
