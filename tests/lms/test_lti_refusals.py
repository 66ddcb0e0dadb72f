"""Every launch check failing on its own: the error page, the right status, nothing stored."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from lms.lti.oidc import cookie_name
from tests.fakes.botframework_keys import new_rsa_key, unsigned_token
from tests.fakes.lti_platform import CLAIM, DELETE, LtiStack, fresh_nonce, lti_stack, new_platform

RETRY = "Try opening PeerLine again from your course."


@pytest.fixture
def stack(database_url, tmp_path, clock):
    with lti_stack(database_url, tmp_path, clock) as built:
        built.register()
        yield built


def stored(stack: LtiStack) -> dict[str, int]:
    tables = ("lti_nonces", "lti_states", "lti_deployments", "requester_identities")
    return {table: stack.count(table) for table in tables}


def assert_refused(stack: LtiStack, response: Any, status: int) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert response.mimetype == "text/html"
    assert "<h1>PeerLine could not open</h1>" in page and RETRY in page
    assert "not a crisis service" in page
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors" in policy and "frame-ancestors *" not in policy, "registered LMS only"
    assert "Traceback" not in page and "a6f1-opaque-student" not in page
    return page


def launch_refused(stack: LtiStack, form: dict[str, str], status: int) -> str:
    before = stored(stack)
    page = assert_refused(stack, stack.client.post("/lti/launch", data=form), status)
    assert form.get("id_token", "")[:40] not in page or not form.get("id_token")
    assert stored(stack) == before  # nothing stored, and the state was not used up
    return page


def now_plus(stack: LtiStack, **delta: float) -> int:
    return int((stack.clock.now() + timedelta(**delta)).timestamp())


# Each case changes one thing about an otherwise valid launch: (name, status, make form).
Case = Callable[[LtiStack], dict[str, str]]


def _authorize(overrides: dict[str, Any] | None = None, **signing: Any) -> Case:
    return lambda stack: stack.platform.authorize(stack.login(), overrides, **signing)


def _other_key(stack: LtiStack) -> dict[str, str]:
    return stack.platform.authorize(stack.login(), key=new_rsa_key())  # kid of the real key


def _unsigned(stack: LtiStack) -> dict[str, str]:
    form = stack.platform.authorize(stack.login())
    claims = {"iss": stack.platform.issuer, "aud": stack.platform.client_id}
    return {**form, "id_token": unsigned_token(claims, {"kid": "platform-key-1"})}


def _hs256(stack: LtiStack) -> dict[str, str]:
    secret = "a-shared-secret-an-attacker-picked-32b"
    return stack.platform.authorize(stack.login(), key=secret, alg="HS256")


def _state(value: str | None) -> Case:
    def make(stack: LtiStack) -> dict[str, str]:
        form = stack.platform.authorize(stack.login())
        if value is None:
            return {"id_token": form["id_token"]}
        return {**form, "state": value}

    return make


def _expired_state(stack: LtiStack) -> dict[str, str]:
    location = stack.login()
    stack.clock.advance(minutes=11)  # the token itself is fresh: it is minted now
    return stack.platform.authorize(location)


def _someone_elses_nonce(stack: LtiStack) -> dict[str, str]:
    form = stack.platform.authorize(stack.login())
    token = stack.platform.id_token(fresh_nonce())
    return {**form, "id_token": token}


def _state_of_another_platform(stack: LtiStack) -> dict[str, str]:
    other = new_platform(stack, client_id="other-client", deployment_id="other-deployment")
    stack.register(other)
    foreign_state = other.authorize(stack.login(other))["state"]
    form = stack.platform.authorize(stack.login())
    return {**form, "state": foreign_state}


def _tampered_cookie(stack: LtiStack) -> dict[str, str]:
    form = stack.platform.authorize(stack.login())
    stack.client.set_cookie(cookie_name(form["state"]), "tampered", path="/lti/")
    return form


CASES: list[tuple[str, int, Case]] = [
    ("bad signature", 401, _other_key),
    ("unknown kid", 401, _authorize(kid="not-a-platform-key")),
    ("alg none", 401, _unsigned),
    ("HS256 with a made-up secret", 401, _hs256),
    ("wrong issuer", 403, _authorize({"iss": "https://evil.example.com"})),
    ("wrong audience", 403, _authorize({"aud": "someone-elses-client"})),
    ("audience list without azp", 401, _authorize({"aud": ["peerline-client-1", "other"]})),
    (
        "audience list with someone else's azp",
        403,
        _authorize({"aud": ["peerline-client-1", "other"], "azp": "other"}),
    ),
    ("expired", 401, lambda s: _authorize({"exp": now_plus(s, minutes=-6)})(s)),
    ("issued in the future", 401, lambda s: _authorize({"iat": now_plus(s, minutes=6)})(s)),
    ("not valid before", 401, lambda s: _authorize({"nbf": now_plus(s, minutes=6)})(s)),
    ("no expiry", 400, _authorize({"exp": DELETE})),
    ("no nonce", 401, _authorize({"nonce": DELETE})),
    ("nonce of another login", 401, _someone_elses_nonce),
    ("missing state", 401, _state(None)),
    ("unknown state", 401, _state("made-up-state-made-up-state-made-up-state-1")),
    ("expired state", 401, _expired_state),
    ("state of another platform's login", 401, _state_of_another_platform),
    ("state cookie that does not match", 401, _tampered_cookie),
    ("unknown deployment", 403, _authorize({CLAIM + "deployment_id": "not-registered"})),
    ("no deployment", 400, _authorize({CLAIM + "deployment_id": DELETE})),
    ("wrong message type", 400, _authorize({CLAIM + "message_type": "LtiSubmissionReview"})),
    ("wrong version", 400, _authorize({CLAIM + "version": "1.1"})),
    ("no resource link", 400, _authorize({CLAIM + "resource_link": DELETE})),
    ("anonymous launch", 400, _authorize({"sub": DELETE})),
    ("roles that are not a list", 400, _authorize({CLAIM + "roles": "Learner"})),
]


@pytest.mark.parametrize(("name", "status", "make"), CASES, ids=[case[0] for case in CASES])
def test_each_failing_check_alone_is_refused_and_stores_nothing(stack, name, status, make):
    launch_refused(stack, make(stack), status)


def test_a_replayed_launch_is_refused(stack):
    form = stack.platform.authorize(stack.login())
    assert stack.client.post("/lti/launch", data=form).status_code == 303
    launch_refused(stack, form, 401)
    fresh_state = stack.platform.authorize(stack.login())["state"]  # same token, new login
    launch_refused(stack, {**form, "state": fresh_state}, 401)
    assert stack.count("lti_nonces") == 1


def test_five_minutes_of_clock_skew_are_allowed(stack):
    overrides = {"exp": now_plus(stack, minutes=-4), "iat": now_plus(stack, minutes=4)}
    form = stack.platform.authorize(stack.login(), overrides)
    assert stack.client.post("/lti/launch", data=form).status_code == 303


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": ["peerline-client-1", "another-audience"], "azp": "peerline-client-1"},
        {"aud": ["peerline-client-1"]},  # one audience: azp is not needed
    ],
    ids=["several with our azp", "a list of one"],
)
def test_an_audience_list_naming_us_is_accepted(stack, overrides):
    form = stack.platform.authorize(stack.login(), overrides)
    assert stack.client.post("/lti/launch", data=form).status_code == 303


@pytest.mark.parametrize(
    "form",
    [{}, {"id_token": "not-a-jwt", "state": "x"}, {"id_token": "a.b.c", "state": "x"}],
    ids=["empty", "garbage", "three garbage parts"],
)
def test_a_malformed_launch_is_a_bad_request(stack, form):
    launch_refused(stack, form, 400)


def test_opening_the_launch_url_directly_shows_the_error_page(stack):
    assert_refused(stack, stack.client.get("/lti/launch"), 400)


def test_platform_keys_that_cannot_be_fetched_refuse_the_launch(stack):
    form = stack.platform.authorize(stack.login())
    stack.platform.__exit__()  # the LMS's key server is down
    launch_refused(stack, form, 401)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"iss": "https://unknown.example.com"}, 403),
        ({"lti_deployment_id": "not-registered"}, 403),
        ({"client_id": "someone-elses-client"}, 403),
        ({"login_hint": ""}, 400),
        ({"target_link_uri": ""}, 400),
    ],
    ids=["unknown issuer", "unknown deployment", "unknown client", "no hint", "no target"],
)
def test_a_login_that_cannot_be_honoured_is_refused(stack, params, status):
    form = {
        "iss": stack.platform.issuer,
        "login_hint": "hint",
        "target_link_uri": "http://localhost/lti/launch",
        "client_id": stack.platform.client_id,
        **params,
    }
    assert_refused(stack, stack.client.post("/lti/login", data=form), status)
    assert stack.count("lti_states") == 0


def test_an_issuer_with_two_client_ids_needs_the_platform_to_name_one(stack):
    stack.app.test_cli_runner().invoke(
        args=[
            "lti", "register", "--program", "uni", "--issuer", stack.platform.issuer,
            "--client-id", "second-client", "--auth-url", stack.platform.auth_url,
            "--token-url", stack.platform.token_url, "--jwks-url", stack.platform.jwks_url,
        ]
    )  # fmt: skip
    form = {"iss": stack.platform.issuer, "login_hint": "h", "target_link_uri": "http://x/"}
    assert_refused(stack, stack.client.post("/lti/login", data=form), 400)
    assert stack.login().startswith(stack.platform.auth_url)  # with client_id it works


def test_nothing_personal_or_secret_reaches_the_logs(stack, caplog):
    caplog.set_level(logging.DEBUG)
    good = stack.platform.authorize(stack.login())
    stack.client.post("/lti/launch", data=good)
    stack.client.post("/lti/launch", data=good)  # replayed
    bad = stack.platform.authorize(stack.login(), {"aud": "someone-elses-client"})
    stack.client.post("/lti/launch", data=bad)
    logged = "\n".join(record.getMessage() + str(vars(record)) for record in caplog.records)
    assert "lti request refused: replayed_nonce" in logged
    for secret in ("a6f1-opaque-student", "opaque-login-hint", "sam@example.edu", "Sam Student"):
        assert secret not in logged
    for form in (good, bad):
        assert form["id_token"] not in logged and form["state"] not in logged
