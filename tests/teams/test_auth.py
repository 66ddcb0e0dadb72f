"""Inbound Bot Framework JWTs: each rule refuses a token on its own, against a loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from core.clock import FrozenClock
from integrations.teams.auth import BotAuthenticator, BotAuthError, Claims
from tests.fakes.botframework_keys import SERVICE_URL, FakeBotFrameworkKeys, new_rsa_key
from tests.live_server import race

APP_ID = "00000000-0000-0000-0000-00000000b07"
HS256_SECRET = b"a-shared-secret-long-enough-for-hs256!"


@pytest.fixture
def keys(clock: FrozenClock) -> Iterator[FakeBotFrameworkKeys]:
    with FakeBotFrameworkKeys(app_id=APP_ID, now=clock.now) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def auth(
    keys: FakeBotFrameworkKeys, clock: FrozenClock, http: requests.Session
) -> BotAuthenticator:
    return BotAuthenticator(
        app_id=APP_ID, openid_metadata_url=keys.metadata_url, now=clock.now, http=http, timeout=5
    )


def activity(channel_id: str = "msteams", service_url: str = SERVICE_URL) -> dict[str, Any]:
    return {"type": "message", "channelId": channel_id, "serviceUrl": service_url, "text": "hi"}


def bearer(token: str) -> str:
    return f"Bearer {token}"


def refused(auth: BotAuthenticator, header: str | None, body: dict[str, Any] | None = None) -> str:
    """Verify, expecting refusal; returns the reason."""
    with pytest.raises(BotAuthError) as caught:
        auth.verify(header, body if body is not None else activity())
    assert caught.value.status == 401
    return caught.value.reason


def test_valid_token_is_accepted(auth: BotAuthenticator, keys: FakeBotFrameworkKeys) -> None:
    claims = auth.verify(bearer(keys.token()), activity())

    assert isinstance(claims, Claims)
    assert claims.app_id == APP_ID
    assert claims.service_url == SERVICE_URL.rstrip("/")
    assert claims.raw["aud"] == APP_ID
    assert keys.key_fetches == 1


def test_keys_are_cached_between_requests(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    for _ in range(3):
        auth.verify(bearer(keys.token()), activity())

    assert keys.key_fetches == 1


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_refused(auth: BotAuthenticator, header: str | None) -> None:
    assert refused(auth, header) == "missing authorization header"


@pytest.mark.parametrize("scheme", ["Basic {}", "Bearer", "Bearer  {}", "Token {}", "{}"])
def test_header_must_be_bearer(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, scheme: str
) -> None:
    assert refused(auth, scheme.format(keys.token())) == "malformed authorization header"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "x" * 20_000])
def test_garbage_token_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, token: str
) -> None:
    refused(auth, bearer(token))
    assert keys.key_fetches == 0


def test_refusal_reason_does_not_repeat_the_token(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    token = keys.token(aud="someone-else")
    with pytest.raises(BotAuthError) as caught:
        auth.verify(bearer(token), activity())

    assert token not in str(caught.value)
    assert token not in repr(caught.value.args)


def test_token_signed_by_unpublished_key_with_known_kid_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    forged = keys.token(kid="key-1", key=new_rsa_key())

    assert refused(auth, bearer(forged)) == "bad signature"


def test_unknown_kid_refetches_once_then_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    auth.verify(bearer(keys.token()), activity())

    reason = refused(auth, bearer(keys.token(kid="nobody", key=new_rsa_key())))

    assert reason == "unknown signing key"
    assert keys.key_fetches == 2


def test_key_published_later_is_accepted_after_refetch(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    auth.verify(bearer(keys.token()), activity())
    new = keys.add_key("key-2")

    claims = auth.verify(bearer(keys.token(kid=new.kid, key=new.private)), activity())

    assert claims.app_id == APP_ID
    assert keys.key_fetches == 2


def test_rotated_keys_replace_the_old_ones(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    old = keys.keys[0]
    auth.verify(bearer(keys.token()), activity())
    new = keys.rotate("key-2")

    auth.verify(bearer(keys.token(kid=new.kid, key=new.private)), activity())

    assert refused(auth, bearer(keys.token(kid=old.kid, key=old.private))) == "unknown signing key"


def test_unknown_kid_refetch_happens_at_most_hourly(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    auth.verify(bearer(keys.token()), activity())
    stranger = new_rsa_key()

    for _ in range(3):
        refused(auth, bearer(keys.token(kid="nobody", key=stranger)))
    assert keys.key_fetches == 2

    clock.advance(minutes=59)
    refused(auth, bearer(keys.token(kid="nobody", key=stranger)))
    assert keys.key_fetches == 2

    clock.advance(minutes=1)
    refused(auth, bearer(keys.token(kid="nobody", key=stranger)))
    assert keys.key_fetches == 3


def test_key_published_within_the_hour_waits_for_the_next_refetch(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    auth.verify(bearer(keys.token()), activity())
    refused(auth, bearer(keys.token(kid="key-2", key=new_rsa_key())))
    new = keys.add_key("key-2")
    token = keys.token(kid=new.kid, key=new.private)

    assert refused(auth, bearer(token)) == "unknown signing key"
    clock.advance(hours=1)
    auth.verify(bearer(keys.token(kid=new.kid, key=new.private)), activity())


def test_keys_are_refetched_after_a_day(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    auth.verify(bearer(keys.token()), activity())
    clock.advance(hours=23, minutes=59)
    auth.verify(bearer(keys.token()), activity())
    assert keys.key_fetches == 1

    clock.advance(minutes=1)
    auth.verify(bearer(keys.token()), activity())
    assert keys.key_fetches == 2


def test_wrong_issuer_is_refused(auth: BotAuthenticator, keys: FakeBotFrameworkKeys) -> None:
    token = keys.token(iss="https://sts.windows.net/evil/")

    assert refused(auth, bearer(token)) == "wrong issuer"


@pytest.mark.parametrize("audience", ["another-bot", [APP_ID, "another-bot"]])
def test_wrong_audience_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, audience: object
) -> None:
    assert refused(auth, bearer(keys.token(aud=audience))) == "wrong audience"


@pytest.mark.parametrize("claim", ["iss", "aud", "exp"])
def test_required_claim_missing_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, claim: str
) -> None:
    without: dict[str, Any] = {claim: None}

    refused(auth, bearer(keys.token(**without)))


def test_token_expired_beyond_skew_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    token = keys.token()
    clock.advance(hours=1, minutes=5, seconds=1)

    assert refused(auth, bearer(token)) == "token expired"


def test_token_expired_within_skew_is_accepted(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    token = keys.token()
    clock.advance(hours=1, minutes=5)

    auth.verify(bearer(token), activity())


def test_token_not_yet_valid_beyond_skew_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    nbf = int(clock.now().timestamp()) + 5 * 60 + 1

    assert refused(auth, bearer(keys.token(nbf=nbf))) == "token not yet valid"


def test_token_not_yet_valid_within_skew_is_accepted(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    nbf = int(clock.now().timestamp()) + 5 * 60

    auth.verify(bearer(keys.token(nbf=nbf)), activity())


@pytest.mark.parametrize("exp", ["tomorrow", True])
def test_non_numeric_expiry_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, exp: object
) -> None:
    refused(auth, bearer(keys.token(exp=exp)))


def test_unsigned_token_is_refused(auth: BotAuthenticator, keys: FakeBotFrameworkKeys) -> None:
    assert refused(auth, bearer(keys.token(alg="none"))) == "algorithm not allowed"
    assert keys.key_fetches == 0


@pytest.mark.parametrize("alg", ["HS256", "RS512", "PS256"])
def test_other_algorithms_are_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, alg: str
) -> None:
    key = HS256_SECRET if alg.startswith("HS") else keys.keys[0].private
    assert refused(auth, bearer(keys.token(alg=alg, key=key))) == "algorithm not allowed"


@pytest.mark.parametrize(
    ("endorsed", "channel_id"), [(("skype",), "msteams"), (("msteams",), "skype"), ((), "msteams")]
)
def test_key_not_endorsed_for_the_channel_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, endorsed: tuple[str, ...], channel_id: str
) -> None:
    key = keys.rotate("key-2", endorsements=endorsed)
    token = keys.token(kid=key.kid, key=key.private)

    reason = refused(auth, bearer(token), activity(channel_id=channel_id))

    assert reason == "key not endorsed for channel"


def test_activity_without_channel_id_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    body = activity()
    del body["channelId"]

    assert refused(auth, bearer(keys.token()), body) == "key not endorsed for channel"


def test_service_url_claim_must_match_the_activity(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    token = keys.token(serviceurl="https://evil.example/teams/")

    assert refused(auth, bearer(token)) == "service url mismatch"


@pytest.mark.parametrize(
    ("claimed", "posted"),
    [
        ("https://smba.trafficmanager.net/teams", "https://smba.trafficmanager.net/teams/"),
        ("https://smba.trafficmanager.net/teams/", "https://smba.trafficmanager.net/teams"),
    ],
)
def test_service_url_ignores_one_trailing_slash(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, claimed: str, posted: str
) -> None:
    claims = auth.verify(bearer(keys.token(serviceurl=claimed)), activity(service_url=posted))

    assert claims.service_url == "https://smba.trafficmanager.net/teams"


@pytest.mark.parametrize(
    ("claimed", "posted"),
    [
        ("https://smba.trafficmanager.net/teams//", "https://smba.trafficmanager.net/teams"),
        ("https://SMBA.trafficmanager.net/teams/", "https://smba.trafficmanager.net/teams/"),
        (None, "https://smba.trafficmanager.net/teams/"),
    ],
)
def test_service_url_is_compared_exactly(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, claimed: str | None, posted: str
) -> None:
    refused(auth, bearer(keys.token(serviceurl=claimed)), activity(service_url=posted))


def test_metadata_server_down_with_cold_cache_is_refused(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    keys.down = True

    assert refused(auth, bearer(keys.token())) == "signing keys unavailable"

    keys.down = False
    auth.verify(bearer(keys.token()), activity())


def test_metadata_server_down_with_warm_cache_uses_cached_keys(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    auth.verify(bearer(keys.token()), activity())
    keys.down = True
    clock.advance(hours=2)

    auth.verify(bearer(keys.token()), activity())
    assert refused(auth, bearer(keys.token(kid="nobody", key=new_rsa_key()))) == (
        "signing keys unavailable"
    )
    auth.verify(bearer(keys.token()), activity())


def test_stale_keys_are_not_used_when_the_refresh_fails(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys, clock: FrozenClock
) -> None:
    auth.verify(bearer(keys.token()), activity())
    keys.down = True
    clock.advance(hours=24)

    assert refused(auth, bearer(keys.token())) == "signing keys unavailable"


def test_unreachable_metadata_url_is_refused(clock: FrozenClock, http: requests.Session) -> None:
    with FakeBotFrameworkKeys(app_id=APP_ID, now=clock.now) as gone:
        url, token = gone.metadata_url, gone.token()
    auth = BotAuthenticator(app_id=APP_ID, openid_metadata_url=url, now=clock.now, http=http)

    assert refused(auth, bearer(token)) == "signing keys unavailable"


def test_concurrent_first_requests_fetch_the_keys_once(
    auth: BotAuthenticator, keys: FakeBotFrameworkKeys
) -> None:
    token = keys.token()

    def verify(_: int, start: Any) -> Claims:
        start()
        return auth.verify(bearer(token), activity())

    results = race(8, verify)

    assert {claims.app_id for claims in results} == {APP_ID}
    assert keys.key_fetches == 1


def test_app_id_is_required(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="app_id"):
        BotAuthenticator(app_id="", now=clock.now)
