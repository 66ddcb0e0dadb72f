"""The Teams channel through the outbox: offers and requester news in the person's 1:1 chat."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.runtime import runtime
from integrations.teams.channel import Proactive, TeamsChannel
from integrations.teams.connector import BotConnector
from integrations.teams.conversations import remember
from integrations.teams.settings import load_teams_settings
from tests.conftest import make_app
from tests.fakes.botconnector import FakeBotConnector
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body
from tests.integration.test_deliveries import drain, rows
from tests.teams.conftest import APP_ID, TENANT, entra_on_loopback, tokens_from

ASH_AAD, ASKER_AAD = "aad-ash-0001", "aad-asker-0002"


@pytest.fixture
def fakes(tmp_path: Path):
    with (
        entra_on_loopback(tmp_path) as (aad, session, certificates),
        FakeBotConnector(aad, certificates=certificates) as connector,
    ):
        yield aad, connector, session


@pytest.fixture
def app(database_url, tmp_path, clock, fakes):
    yield from _app(database_url, tmp_path, clock, fakes, proactive=False)


@pytest.fixture
def proactive_app(database_url, tmp_path, clock, fakes):
    yield from _app(database_url, tmp_path, clock, fakes, proactive=True)


def _app(database_url, tmp_path, clock, fakes, *, proactive: bool):
    aad, connector, session = fakes
    tokens = tokens_from(aad, session)
    bot = BotConnector(tokens=tokens, allowed_hosts=frozenset({"127.0.0.1"}), session=session)

    opener = Proactive(bot_id=APP_ID, tenant_id=TENANT, service_url=connector.url)

    def hook(host):
        host.add_channel(TeamsChannel(host.runtime, bot, opener if proactive else None))

    mail = {"mail_folder": tmp_path / "instance" / "mail"} if proactive else {}
    application = make_app(database_url, tmp_path, clock, plugins=[("teams-test", hook)], **mail)
    yield application
    runtime(application).engine.dispose()


def chat_with_bot(app, connector, aad_id: str, conversation: str) -> None:
    """What the bot stores when someone writes to it (or installs it) in a 1:1 chat."""
    connector.open_conversation(conversation)
    remember(
        runtime(app),
        {
            "serviceUrl": connector.url,
            "from": {"id": f"29:{aad_id}", "aadObjectId": aad_id},
            "conversation": {"id": conversation, "conversationType": "personal"},
            "channelData": {"tenant": {"id": TENANT}},
        },
    )


def test_an_offer_reaches_the_supporter_in_their_teams_chat(app, fakes):
    _aad, connector, _session = fakes
    world = make_world(app, app.test_client())
    world.add_supporter(
        "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": ASH_AAD}]
    )
    chat_with_bot(app, connector, ASH_AAD, "a:ash")
    body = request_body(note="private words", requester={"platform": "teams", "subject": ASKER_AAD})
    assert (
        app.test_client()
        .post("/api/v1/requests", json=body, headers=auth(world.service))
        .status_code
        == 201
    )
    assert drain(app) == ["sent"]
    [offer] = connector.activities["a:ash"]
    assert "New peer chat request" in offer["text"] and "private words" not in offer["text"]
    assert ASKER_AAD not in offer["text"]


def test_requester_news_carries_the_crisis_resources(app, fakes):
    _aad, connector, _session = fakes
    world = make_world(app, app.test_client())
    chat_with_bot(app, connector, ASKER_AAD, "a:asker")
    body = request_body(requester={"platform": "teams", "subject": ASKER_AAD})
    app.test_client().post("/api/v1/requests", json=body, headers=auth(world.service))
    drain(app)  # nobody is on the roster: the requester is told so, honestly
    [told] = connector.activities["a:asker"]
    assert "not a crisis" in told["text"].lower() and "No peer supporter is free" in told["text"]


def test_connector_faults_are_retried_and_a_person_never_seen_is_a_dead_letter(app, fakes, clock):
    _aad, connector, _session = fakes
    world = make_world(app, app.test_client())
    world.add_supporter(
        "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": ASH_AAD}]
    )
    world.add_supporter(
        "Birch", weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": "aad-birch"}]
    )
    chat_with_bot(app, connector, ASH_AAD, "a:ash")
    connector.fail_next(429, retry_after=9)
    app.test_client().post("/api/v1/requests", json=request_body(), headers=auth(world.service))
    assert sorted(drain(app)) == ["dead", "retry"]
    [dead] = rows(app, status="dead")
    assert dead.last_error == "no channel reaches this recipient", "Birch never wrote to the bot"
    [waiting] = rows(app, status="pending")
    assert (waiting.next_attempt_at - clock.now()).total_seconds() == 9
    clock.advance(seconds=9)
    assert drain(app) == ["sent"] and len(connector.activities["a:ash"]) == 1


def test_a_server_error_is_retried_through_the_queue_and_sent_once(app, fakes, clock):
    _aad, connector, _session = fakes
    world = make_world(app, app.test_client())
    world.add_supporter(
        "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": ASH_AAD}]
    )
    chat_with_bot(app, connector, ASH_AAD, "a:ash")
    connector.fail_next(503, times=2)
    app.test_client().post("/api/v1/requests", json=request_body(), headers=auth(world.service))
    assert drain(app) == ["retry"]
    clock.advance(minutes=1)
    assert drain(app) == ["retry"]
    clock.advance(minutes=5)
    assert drain(app) == ["sent"] and drain(app) == []
    assert len(connector.activities["a:ash"]) == 1, "delivered exactly once"


def test_a_supporter_who_never_wrote_gets_a_chat_opened_by_the_bot(proactive_app, fakes):
    _aad, connector, _session = fakes
    app = proactive_app
    world = make_world(app, app.test_client())
    world.add_supporter(
        "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": ASH_AAD}]
    )
    for _ in range(2):
        body = request_body()
        app.test_client().post("/api/v1/requests", json=body, headers=auth(world.service))
        assert drain(app) == ["sent"]
    assert len(connector.created) == 1, "the chat is opened once, then found again"
    [opened] = connector.created
    assert opened["members"] == [{"id": ASH_AAD}] and opened["bot"] == {"id": APP_ID}
    assert opened["channelData"] == {"tenant": {"id": TENANT}}
    offers = connector.activities[f"a:{ASH_AAD}"]
    assert len(offers) == 2 and all("offer_accept" in str(o) for o in offers)


def test_without_the_app_installed_the_message_goes_by_e_mail(proactive_app, fakes, caplog):
    _aad, connector, _session = fakes
    app = proactive_app
    connector.installed_for = set()
    world = make_world(app, app.test_client())
    contacts = [
        {"platform": "teams", "address": ASH_AAD},
        {"platform": "email", "address": "ash@acme.example"},
    ]
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY, contacts=contacts)
    for _ in range(2):
        app.test_client().post("/api/v1/requests", json=request_body(), headers=auth(world.service))
        assert drain(app) == ["sent"]
    assert [d.channel for d in rows(app, status="sent")] == ["email", "email"]
    assert len(list((Path(app.instance_path) / "mail").glob("*.eml"))) == 2
    refused = [r.getMessage() for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(refused) == 1, "Teams is not asked again for an hour"
    assert "could not open a Teams chat" in refused[0] and ASH_AAD not in refused[0]
    assert connector.created == [] and connector.activities.get(f"a:{ASH_AAD}") is None


def test_the_proactive_service_url_must_be_an_allowed_https_host():
    assert load_teams_settings().service_url == "https://smba.trafficmanager.net/teams/"
    gcc = "https://smba.infra.gcc.teams.microsoft.com/teams"
    assert load_teams_settings({"service_url": gcc}).service_url == gcc
    for bad in ("https://evil.example/teams", "http://smba.trafficmanager.net/teams/"):
        with pytest.raises(ConfigError, match="TEAMS_SERVICE_URL"):
            load_teams_settings({"service_url": bad})
