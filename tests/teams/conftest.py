"""The Teams bot behind real HTTP fakes (Entra ID, Bot Connector, Bot Framework keys)."""

from __future__ import annotations

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
from tests.fakes.smtp import make_certificates
from tests.helpers import make_world

TENANT, APP_ID, SECRET = "tenant-1", "app-1", "s3cret-value-never-shown"
CHAT = "a:1:personal-chat"


@pytest.fixture
def stack(database_url, tmp_path: Path, clock):
    with teams_stack(database_url, tmp_path, clock) as built:
        yield built


@contextmanager
def teams_stack(database_url, tmp_path: Path, clock, plugins=()):
    """The app with the Teams bot on loopback fakes; `plugins` adds others (e.g. Slack)."""
    certificates = make_certificates(tmp_path / "tls")
    with (
        FakeEntraID(
            tenant_id=TENANT, client_id=APP_ID, client_secret=SECRET, certificates=certificates
        ) as aad,
        FakeBotConnector(aad, certificates=certificates) as connector,
        requests.Session() as session,
    ):
        session.trust_env = False
        session.verify = str(certificates.ca_file)
        with FakeBotFrameworkKeys(app_id=APP_ID, now=clock.now, service_url=connector.url) as keys:
            connector.open_conversation(CHAT)
            tokens = TokenProvider(
                app_id=APP_ID,
                password=SECRET,
                tenant_id=TENANT,
                authority_host=aad.url,
                http_client=session,
            )
            bot_connector = BotConnector(
                tokens=tokens, allowed_hosts=frozenset({"127.0.0.1"}), session=session
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
