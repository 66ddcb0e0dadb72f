"""BotConnector and TokenProvider against a fake Entra ID and Bot Connector over real TLS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from core.ports import DeliveryResult
from integrations.teams.connector import BotConnector, ConnectorError, result_of, retry_after
from integrations.teams.tokens import TokenError, TokenProvider
from tests.fakes.botconnector import FakeBotConnector, FakeEntraID
from tests.fakes.smtp import Certificates, make_certificates

TENANT, APP_ID, SECRET = "tenant-1", "app-1", "s3cret-value-never-shown"
CHAT = "a:chat-1"
ACTIVITY = {"type": "message", "text": "Someone would like to talk"}
LOCAL = frozenset({"127.0.0.1"})


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(Path(tmp_path_factory.mktemp("teams-tls")))


@pytest.fixture
def session(certificates: Certificates) -> Iterator[requests.Session]:
    """Verifies the fakes' certificates against the throwaway CA: no verification is off."""
    with requests.Session() as verified:
        verified.trust_env = False  # else REQUESTS_CA_BUNDLE would override `verify`
        verified.verify = str(certificates.ca_file)
        yield verified


@pytest.fixture
def aad(certificates: Certificates) -> Iterator[FakeEntraID]:
    fake = FakeEntraID(
        tenant_id=TENANT, client_id=APP_ID, client_secret=SECRET, certificates=certificates
    )
    with fake:
        yield fake


@pytest.fixture
def teams(aad: FakeEntraID, certificates: Certificates) -> Iterator[FakeBotConnector]:
    with FakeBotConnector(aad, certificates=certificates) as fake:
        fake.open_conversation(CHAT)
        yield fake


def provider(aad: FakeEntraID, session: requests.Session, password: str = SECRET) -> TokenProvider:
    return TokenProvider(
        app_id=APP_ID,
        password=password,
        tenant_id=TENANT,
        authority_host=aad.url,
        http_client=session,
    )


@pytest.fixture
def bot(aad: FakeEntraID, session: requests.Session) -> BotConnector:
    return BotConnector(tokens=provider(aad, session), allowed_hosts=LOCAL, session=session)


def refusal(bot: BotConnector, url: str) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        bot.send(url, CHAT, ACTIVITY)
    return caught.value


def test_send_records_the_activity_and_returns_its_id(
    bot: BotConnector, teams: FakeBotConnector
) -> None:
    activity_id = bot.send(teams.url, CHAT, ACTIVITY)
    assert teams.activities[CHAT] == [{**ACTIVITY, "id": activity_id}]


def test_the_token_is_fetched_once_and_reused_across_sends(
    bot: BotConnector, teams: FakeBotConnector, aad: FakeEntraID
) -> None:
    for _ in range(3):
        bot.send(teams.url, CHAT, ACTIVITY)
    assert len(teams.activities[CHAT]) == 3
    assert aad.token_requests == 1


def test_connector_and_graph_tokens_are_separate_and_each_cached(
    aad: FakeEntraID, session: requests.Session
) -> None:
    tokens = provider(aad, session)
    connector, graph = tokens.connector_token(), tokens.graph_token()
    assert connector != graph
    assert (tokens.connector_token(), tokens.graph_token()) == (connector, graph)
    assert aad.token_requests == 2
    assert aad.issued(graph, "https://graph.microsoft.com/.default")


def test_update_replaces_the_posted_activity(bot: BotConnector, teams: FakeBotConnector) -> None:
    activity_id = bot.send(teams.url, CHAT, ACTIVITY)
    bot.update(teams.url, CHAT, activity_id, {"type": "message", "text": "Taken"})
    assert teams.activities[CHAT] == [{"type": "message", "text": "Taken", "id": activity_id}]


def test_create_conversation_names_bot_member_and_tenant(
    bot: BotConnector, teams: FakeBotConnector
) -> None:
    conversation_id = bot.create_conversation(teams.url + "/", "28:bot", "29:user", TENANT)
    assert teams.conversations[conversation_id] == {
        "bot": {"id": "28:bot"},
        "members": [{"id": "29:user"}],
        "channelData": {"tenant": {"id": TENANT}},
        "isGroup": False,
    }
    bot.send(teams.url, conversation_id, ACTIVITY)
    assert len(teams.activities[conversation_id]) == 1


def test_teams_ids_with_colons_and_at_signs_stay_one_path_segment(
    bot: BotConnector, teams: FakeBotConnector
) -> None:
    channel = "19:abc-def@thread.tacv2"
    teams.open_conversation(channel)
    bot.send(teams.url, channel, ACTIVITY)
    assert len(teams.activities[channel]) == 1


@pytest.mark.parametrize(
    "service_url",
    [
        "https://smba.evil.example/amer/",
        "http://127.0.0.1:1/",  # plain http, not explicitly allowed
        "https://user:pw@127.0.0.1:1/",
        "ftp://127.0.0.1:1/",
        "not a url",
    ],
)
def test_a_service_url_not_allowed_gets_no_token(
    bot: BotConnector, aad: FakeEntraID, service_url: str
) -> None:
    error = refusal(bot, service_url)
    assert (error.permanent, error.reason) == (True, "serviceUrl host not allowed")
    assert aad.token_requests == 0


def test_plain_http_only_for_loopback_and_only_when_allowed(
    aad: FakeEntraID, session: requests.Session
) -> None:
    bot = BotConnector(
        tokens=provider(aad, session),
        allowed_hosts=frozenset({"127.0.0.1", "smba.trafficmanager.net"}),
        session=session,
        allow_loopback_http=True,
    )
    with FakeBotConnector(aad, certificates=None) as plain:
        plain.open_conversation(CHAT)
        bot.send(plain.url, CHAT, ACTIVITY)
        assert len(plain.activities[CHAT]) == 1
    assert refusal(bot, "http://smba.trafficmanager.net/amer/").permanent
    assert aad.token_requests == 1


@pytest.mark.parametrize("after, expected", [("7", 7.0), ("0", 0.0), ("soon", None), (None, None)])
def test_429_is_retried_after_what_the_connector_asked(
    bot: BotConnector, teams: FakeBotConnector, after: str | None, expected: float | None
) -> None:
    teams.fail_next(429, retry_after=after)
    error = refusal(bot, teams.url)
    assert (error.permanent, error.retry_after) == (False, expected)
    bot.send(teams.url, CHAT, ACTIVITY)  # the next call goes through
    assert len(teams.activities[CHAT]) == 1


def test_retry_after_reads_an_http_date() -> None:
    now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert retry_after("Wed, 04 Mar 2026 09:01:30 GMT", now) == 90.0
    assert retry_after("Wed, 04 Mar 2026 08:00:00 GMT", now) == 0.0
    assert retry_after("inf", now) is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(bot: BotConnector, teams: FakeBotConnector, status: int) -> None:
    teams.fail_next(status)
    error = refusal(bot, teams.url)
    assert (error.permanent, error.retry_after, error.reason) == (
        False,
        None,
        f"the Bot Connector answered HTTP {status}",
    )


@pytest.mark.parametrize(
    "status, reason",
    [
        (401, "the Bot Connector refused our token"),
        (403, "the Bot Connector refused our token"),
        (404, "conversation not found"),
        (400, "the Bot Connector answered HTTP 400"),
    ],
)
def test_refusals_are_permanent(
    bot: BotConnector, teams: FakeBotConnector, status: int, reason: str
) -> None:
    teams.fail_next(status)
    error = refusal(bot, teams.url)
    assert (error.permanent, error.reason) == (True, reason)


def test_an_unknown_conversation_is_permanent(bot: BotConnector, teams: FakeBotConnector) -> None:
    with pytest.raises(ConnectorError) as caught:
        bot.send(teams.url, "a:gone", ACTIVITY)
    assert (caught.value.permanent, caught.value.reason) == (True, "conversation not found")


class WrongAudience(TokenProvider):
    """Hands the connector a Graph token: one our fake Entra ID issued, for another API."""

    def connector_token(self) -> str:
        return self.graph_token()


def test_a_token_for_another_api_is_refused(
    aad: FakeEntraID, teams: FakeBotConnector, session: requests.Session
) -> None:
    """The fake really checks the bearer token, so the 401 mapping is exercised end to end."""
    tokens = WrongAudience(
        app_id=APP_ID,
        password=SECRET,
        tenant_id=TENANT,
        authority_host=aad.url,
        http_client=session,
    )
    bot = BotConnector(tokens=tokens, allowed_hosts=LOCAL, session=session)
    error = refusal(bot, teams.url)
    assert (error.permanent, error.reason) == (True, "the Bot Connector refused our token")


def test_a_connector_that_cannot_be_reached_is_retried(bot: BotConnector) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = refusal(bot, f"https://127.0.0.1:{port}/")
    assert error.permanent is False
    assert error.reason.startswith("could not reach the Bot Connector")


def test_a_connector_that_does_not_answer_is_retried(
    aad: FakeEntraID, session: requests.Session
) -> None:
    bot = BotConnector(
        tokens=provider(aad, session), allowed_hosts=LOCAL, session=session, timeout=0.2
    )
    with socket.socket() as silent:  # accepts the connection (backlog), never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        error = refusal(bot, f"https://127.0.0.1:{silent.getsockname()[1]}/")
    assert (error.permanent, error.reason) == (False, "the Bot Connector did not answer in time")


def test_a_refused_secret_names_the_error_code_only(
    aad: FakeEntraID, session: requests.Session
) -> None:
    tokens = provider(aad, session, password="wrong-" + SECRET)
    with pytest.raises(TokenError) as caught:
        tokens.connector_token()
    assert caught.value.reason == "invalid_client"
    assert caught.value.transient is False
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert SECRET not in text
    assert "AADSTS" not in text
    assert aad.token_requests == 1


def test_a_refused_secret_makes_sends_fail_permanently(
    aad: FakeEntraID, teams: FakeBotConnector, session: requests.Session
) -> None:
    tokens = provider(aad, session, password="wrong")
    bot = BotConnector(tokens=tokens, allowed_hosts=LOCAL, session=session)
    error = refusal(bot, teams.url)
    assert (error.permanent, error.reason) == (True, "no Bot Connector token (invalid_client)")
    assert teams.calls == 0


def test_a_wrong_tenant_is_a_token_error(aad: FakeEntraID, session: requests.Session) -> None:
    tokens = TokenProvider(
        app_id=APP_ID,
        password=SECRET,
        tenant_id="other",
        authority_host=aad.url,
        http_client=session,
    )
    with pytest.raises(TokenError) as caught:
        tokens.connector_token()
    assert SECRET not in str(caught.value)
    assert aad.token_requests == 0


def test_an_unreachable_token_endpoint_is_transient(session: requests.Session) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tokens = TokenProvider(
        app_id=APP_ID,
        password=SECRET,
        tenant_id=TENANT,
        authority_host=f"https://127.0.0.1:{port}",
        http_client=session,
    )
    with pytest.raises(TokenError) as caught:
        tokens.connector_token()
    assert caught.value.transient is True


def test_result_of_tells_the_job_queue_whether_to_retry() -> None:
    rate_limited = ConnectorError(permanent=False, retry_after=7.0, reason="slow down")
    refused = ConnectorError(permanent=True, reason="conversation not found")
    assert result_of(rate_limited) == DeliveryResult(
        delivered=False, retry_after_seconds=7.0, permanent=False, detail="slow down"
    )
    assert result_of(refused) == DeliveryResult(
        delivered=False, permanent=True, detail="conversation not found"
    )
