"""The browser round trips, attacked: LTI launches, console SSO, Slack's OAuth install.

The per-rule refusals live beside the code (tests/lms/test_lti_refusals.py,
tests/teams/test_console_sign_in.py, tests/slack/test_oauth.py); these are the cases they
leave open, each checked for nothing stored and nothing sent. See test_inbound_channels.py
for Slack requests and Teams activities.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import update

from core.clock import FrozenClock
from core.console.session import COOKIE
from core.runtime import runtime
from integrations.slack.storage import OAUTH_STATES
from tests.fakes.entra_sign_in import FakeEntraSignIn, _Grant
from tests.fakes.lti_platform import LtiStack, lti_stack, new_platform
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import make_certificates
from tests.helpers import World
from tests.security.test_inbound_channels import snapshot
from tests.slack.test_oauth import INSTALLED_TOKEN, install, oauth_app, start_install
from tests.slack.test_wiring import SIGNING_SECRET
from tests.teams.test_console_sign_in import ADA, CLIENT_ID, SECRET, TENANT, Site, console_app

# -- LTI 1.3 ----------------------------------------------------------------------------------


@pytest.fixture
def lti(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[LtiStack]:
    with lti_stack(database_url, tmp_path, clock) as stack:
        stack.register()
        yield stack


def launch_refused(stack: LtiStack, form: dict[str, str]) -> None:
    before = snapshot(stack.app)
    answer = stack.client.post("/lti/launch", data=form)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert snapshot(stack.app) == before


def test_a_launch_signed_by_another_registered_platform_is_refused(lti: LtiStack) -> None:
    """One school's LMS admin must not mint launches into another school's program."""
    other = new_platform(lti, client_id="other-client", deployment_id="other-deployment")
    lti.register(other)
    forged = lti.platform.authorize(lti.login(), key=other.keys[0].private, kid=other.keys[0].kid)
    launch_refused(lti, forged)


def test_a_replayed_deep_linking_launch_is_refused(lti: LtiStack) -> None:
    form = lti.platform.authorize(lti.login(), lti.platform.deep_linking_claims())
    assert lti.client.post("/lti/launch", data=form).status_code == 200
    launch_refused(lti, form)


# -- console sign-in with Microsoft -------------------------------------------------------------


class MisissuingEntra(FakeEntraSignIn):
    """A fake Entra ID whose id_tokens carry one wrong claim (set by the test)."""

    wrong: dict[str, Any] = {}

    def _id_token(self, grant: _Grant, tid: str) -> str:
        import jwt

        claims = jwt.decode(super()._id_token(grant, tid), options={"verify_signature": False})
        return str(jwt.encode({**claims, **self.wrong}, self._key, algorithm="RS256"))


@pytest.fixture
def entra(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Site]:
    certificates = make_certificates(tmp_path / "tls")
    with (
        MisissuingEntra(
            tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET,
            certificates=certificates, now=clock.now,
        ) as aad,
        requests.Session() as session,
    ):  # fmt: skip
        session.trust_env = False
        session.verify = str(certificates.ca_file)
        app = console_app(database_url, tmp_path, clock, aad.url, session)
        yield Site(app, aad, session)
        runtime(app).engine.dispose()


@pytest.mark.parametrize(
    "wrong",
    [{"aud": "another-apps-client-id"}, {"iss": "https://login.evil.example/tenant-1/v2.0"}],
    ids=["id_token for another app", "id_token from another issuer"],
)
def test_a_microsoft_sign_in_for_another_audience_or_issuer_signs_no_one_in(
    entra: Site, wrong: dict[str, Any]
) -> None:
    entra.account()
    MisissuingEntra.wrong = wrong
    client = entra.app.test_client()
    before = snapshot(entra.app, ignore=frozenset({"audit_events"}))
    try:
        refused = entra.sign_in(client)
    finally:
        MisissuingEntra.wrong = {}
    assert refused.status_code == 401
    assert client.get_cookie(COOKIE, path="/console") is None
    assert entra.linked(ADA.email) == (None, None), "the account was not linked to that person"
    assert snapshot(entra.app, ignore=frozenset({"audit_events"})) == before


# -- Slack OAuth install ------------------------------------------------------------------------


@pytest.fixture
def installs(database_url, tmp_path, clock, monkeypatch) -> Iterator[tuple[World, FakeSlack]]:  # type: ignore[no-untyped-def]
    for name in [n for n in __import__("os").environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)
    with FakeSlack(token=INSTALLED_TOKEN) as slack:
        world = oauth_app(database_url, tmp_path, clock, monkeypatch, slack.url)
        yield world, slack
        runtime(world.app).engine.dispose()


def test_a_state_carried_to_another_browser_installs_nothing(
    installs: tuple[World, FakeSlack],
) -> None:
    """A stolen install link (state) finishes nothing; the admin's own browser still can."""
    world, slack = installs
    admin = world.app.test_client()
    state = start_install(admin)
    before = snapshot(world.app)
    stolen = world.app.test_client().get(f"/slack/oauth_redirect?code=code-x&state={state}")
    assert stolen.status_code >= 400 and snapshot(world.app) == before
    assert slack.calls("oauth.v2.access") == []
    assert admin.get(f"/slack/oauth_redirect?code=code-1&state={state}").status_code == 200


def test_an_expired_state_installs_nothing(installs: tuple[World, FakeSlack]) -> None:
    world, slack = installs
    client = world.app.test_client()
    state = start_install(client)
    with runtime(world.app).engine.begin() as connection:
        connection.execute(update(OAUTH_STATES).values(expire_at=datetime(2001, 1, 1)))
    before = snapshot(world.app)
    answer = client.get(f"/slack/oauth_redirect?code=code-1&state={state}")
    assert answer.status_code >= 400 and snapshot(world.app) == before
    assert slack.calls("oauth.v2.access") == []


def test_a_workspace_that_never_installed_the_app_is_served_nothing(
    installs: tuple[World, FakeSlack],
) -> None:
    world, slack = installs
    install(world.app)
    form = {
        "command": "/peer", "user_id": "U0STRANGER", "team_id": "T0NEVER",
        "trigger_id": "trigger-x", "channel_id": "D0", "text": "",
    }  # fmt: skip
    body, stamp = urlencode(form), str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    before = snapshot(world.app, ignore=frozenset({"slack_events_seen"}))
    answer = world.app.test_client().post(
        "/slack/events",
        data=body,
        headers=headers,
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code < 500, "bolt finds no installation and says so"
    assert snapshot(world.app, ignore=frozenset({"slack_events_seen"})) == before
    assert slack.calls("views.open") == []
