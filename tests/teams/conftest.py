"""The Teams bot behind real HTTP fakes (Entra ID, Bot Connector, Bot Framework keys)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from core.runtime import runtime
from integrations.teams.auth import BotAuthenticator
from integrations.teams.bot import Bot, blueprint
from integrations.teams.channel import TeamsChannel
from integrations.teams.connector import BotConnector
from integrations.teams.settings import TeamsSettings
from integrations.teams.tokens import TokenProvider
from tests.conftest import make_app
from tests.fakes.botconnector import FakeBotConnector, FakeEntraID
from tests.fakes.botframework_keys import FakeBotFrameworkKeys
from tests.fakes.smtp import Certificates, make_certificates
from tests.helpers import EVERY_WEEKDAY, World, issue_token, make_world

TENANT, APP_ID, SECRET = "tenant-1", "app-1", "s3cret-value-never-shown"
CHAT = "a:1:personal-chat"


@pytest.fixture
def stack(database_url, tmp_path: Path, clock):
    with teams_stack(database_url, tmp_path, clock) as built:
        yield built


@contextmanager
def entra_on_loopback(
    tmp_path: Path,
) -> Iterator[tuple[FakeEntraID, requests.Session, Certificates]]:
    """A fake Entra ID over TLS, and a session that trusts the test CA and no proxy."""
    certificates = make_certificates(tmp_path / "tls")
    with (
        FakeEntraID(
            tenant_id=TENANT, client_id=APP_ID, client_secret=SECRET, certificates=certificates
        ) as aad,
        requests.Session() as session,
    ):
        session.trust_env = False
        session.verify = str(certificates.ca_file)
        yield aad, session, certificates


def tokens_from(aad: FakeEntraID, session: requests.Session) -> TokenProvider:
    """Our real msal token provider, pointed at the fake Entra ID."""
    return TokenProvider(
        app_id=APP_ID,
        password=SECRET,
        tenant_id=TENANT,
        authority_host=aad.url,
        http_client=session,
    )


@contextmanager
def teams_stack(database_url, tmp_path: Path, clock, plugins=()):
    """The app with the Teams bot on loopback fakes; `plugins` adds others (e.g. Slack)."""
    with (
        entra_on_loopback(tmp_path) as (aad, session, certificates),
        FakeBotConnector(aad, certificates=certificates) as connector,
        FakeBotFrameworkKeys(app_id=APP_ID, now=clock.now, service_url=connector.url) as keys,
    ):
        connector.open_conversation(CHAT)
        bot_connector = BotConnector(
            tokens=tokens_from(aad, session),
            allowed_hosts=frozenset({"127.0.0.1"}),
            session=session,
        )
        authenticator = BotAuthenticator(
            app_id=APP_ID, now=clock.now, openid_metadata_url=keys.metadata_url
        )

        def hook(host):
            bot = Bot(host.runtime, TeamsSettings(), bot_connector)
            host.add_blueprint(blueprint(authenticator, bot))
            host.add_channel(TeamsChannel(host.runtime, bot_connector))

        app = make_app(database_url, tmp_path, clock, plugins=[("teams-test", hook), *plugins])
        make_world(app, app.test_client())
        try:
            yield app, keys, connector
        finally:
            runtime(app).engine.dispose()


def post(app, activity: dict, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().post("/api/messages", json=activity, headers=headers)


def from_person(connector_url: str, aad: str, chat: str, **fields) -> dict:
    return {
        "channelId": "msteams",
        "serviceUrl": connector_url,
        "from": {"id": f"29:{aad}", "aadObjectId": aad, "name": "A Real Name"},
        "recipient": {"id": "28:bot"},
        "conversation": {"id": chat, "conversationType": "personal"},
        "channelData": {"tenant": {"id": TENANT}},
        **fields,
    }


def execute(verb: str, **data) -> dict:
    return {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "value": {
            "action": {"type": "Action.Execute", "verb": verb, "data": {"verb": verb, **data}}
        },
    }


def card_of(activity: dict) -> dict:
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def introduce(app, keys, connector, aad: str, chat: str) -> None:
    connector.open_conversation(chat)
    update = from_person(connector.url, aad, chat, type="conversationUpdate", membersAdded=[])
    post(app, update, keys.token())


def teams_supporters(app, connector, keys, *aliases: str) -> World:
    world = World(app, app.test_client())
    world.admin = issue_token(app, "admin", "acme")
    for alias in aliases:
        aad = f"aad-{alias.lower()}"
        world.add_supporter(
            alias, weekly=EVERY_WEEKDAY, contacts=[{"platform": "teams", "address": aad}]
        )
        introduce(app, keys, connector, aad, f"a:{alias}")
    return world
