"""Security headers on every kind of answer, HSTS only behind TLS, and who may frame the LMS pages.

Capability URLs (private links, feed URLs, sealed sessions) must never leave in a Referer, no
page may be framed by a site that is not a registered LMS, and browsers must never sniff.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from core.clock import FrozenClock
from core.runtime import runtime
from lms.lti import platforms
from lms.lti.storage import PLATFORMS
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.helpers import World, auth, make_world

CANVAS = platforms.Registration(
    program="acme",
    issuer="https://canvas.instructure.com",
    client_id="10000000000001",
    auth_login_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
    auth_token_url="https://sso.canvaslms.com/login/oauth2/token",
    jwks_url="https://sso.canvaslms.com/api/lti/security/jwks",
)
MOODLE = platforms.Registration(
    program="acme",
    issuer="https://moodle.school.example",
    client_id="moodle-client",
    auth_login_url="https://moodle.school.example/mod/lti/auth.php",
    auth_token_url="https://moodle.school.example/mod/lti/token.php",
    jwks_url="https://moodle.school.example/mod/lti/certs.php",
)


@pytest.fixture
def school(database_url: str, tmp_path: Path, clock: FrozenClock) -> tuple[Flask, World]:
    app = make_app(database_url, tmp_path, clock, plugins=[("lms", lms_plugin)])
    return app, make_world(app, app.test_client(), kind="school")


def assert_never_sniffed_nor_referred(response: TestResponse) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def policy_of(response: TestResponse) -> dict[str, str]:
    """The CSP as directive -> sources."""
    directives = (d.strip() for d in response.headers["Content-Security-Policy"].split(";"))
    return {name: rest for name, _, rest in (d.partition(" ") for d in directives if d)}


def supporter_feed(app: Flask, world: World) -> str:
    """A supporter's real feed URL, as the supporter gets it."""
    ash = world.add_supporter("Ash")
    token = world.supporter_token("Ash")
    response = app.test_client().post("/lms/feeds/supporter", headers=auth(token))
    assert response.status_code == 201 and response.json is not None, ash
    url: str = response.json["url"]
    return url[url.index("/feeds/") :]


def test_every_kind_of_answer_carries_the_headers(school: tuple[Flask, World]) -> None:
    app, world = school
    client = app.test_client()
    answers = {
        "api json": client.get("/api/v1/programs/acme/intake"),
        "api error": client.get(f"/api/v1/requests/{uuid.uuid4()}"),
        "health": client.get("/healthz"),
        "console page": client.get("/console/sign-in"),
        "landing page": client.get("/"),
        "api docs page": client.get("/api/v1/docs"),
        "lti page": client.get("/lti/launch"),  # a launch must be a POST: the error page
        "booking page": client.get("/lms/book"),  # no session: the "session ended" page
        "private link page": client.get("/lms/my/plr_" + secrets.token_urlsafe(32)),
        "feed": client.get(supporter_feed(app, world)),
    }
    for kind, response in answers.items():
        assert_never_sniffed_nor_referred(response)
        if response.mimetype == "text/html":
            policy = policy_of(response)
            plugins = policy.get("object-src", policy["default-src"])
            assert plugins == "'none'" and policy["base-uri"] == "'none'", kind
            assert "frame-ancestors" in policy, kind
            assert "*" not in policy["frame-ancestors"].split(), kind
    assert answers["feed"].status_code == 200 and answers["feed"].mimetype == "text/calendar"
    assert answers["api json"].headers["X-Frame-Options"] == "DENY"
    assert answers["health"].headers["X-Frame-Options"] == "DENY"
    assert policy_of(answers["console page"])["frame-ancestors"] == "'none'"
    assert policy_of(answers["console page"])["script-src"] == "'self'"
    assert answers["lti page"].status_code == 400 and answers["booking page"].status_code == 401
    for kind in ("lti page", "booking page", "private link page"):
        assert policy_of(answers[kind])["frame-ancestors"] == "'none'", "no LMS registered yet"
        assert "X-Frame-Options" not in answers[kind].headers, "the CSP says who may frame it"


def test_hsts_only_over_https(database_url: str, tmp_path: Path, clock: FrozenClock) -> None:
    app = make_app(database_url, tmp_path, clock)
    plain = app.test_client().get("/healthz")
    assert "Strict-Transport-Security" not in plain.headers, "never on plain http in development"
    secure = app.test_client().get("/healthz", base_url="https://peerline.example")
    assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]


def test_hsts_behind_a_tls_proxy(database_url: str, tmp_path: Path, clock: FrozenClock) -> None:
    app = make_app(database_url, tmp_path, clock, trust_proxy_hops=1)
    client = app.test_client()
    proxied = client.get("/console/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=" in proxied.headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get("/console/sign-in").headers

    untrusted = make_app(database_url, tmp_path / "untrusted", clock)
    forged = untrusted.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers, "no proxy is trusted by default"


def test_hsts_in_production_behind_tls(tmp_path: Path, clock: FrozenClock) -> None:
    """A production deployment at an https address, even when its proxy hops are not set."""
    settings: dict[str, Any] = {
        "env": "production",
        "secret_key": secrets.token_urlsafe(48),
        "encryption_keys": Fernet.generate_key().decode(),
        "public_url": "https://peerline.example",
    }
    app = make_app(f"sqlite:///{tmp_path / 'prod.sqlite3'}", tmp_path, clock, **settings)
    assert "max-age=" in app.test_client().get("/healthz").headers["Strict-Transport-Security"]


def register(app: Flask, registration: platforms.Registration) -> None:
    platforms.register(runtime(app), registration)


def ancestors(client: FlaskClient, path: str) -> list[str]:
    return policy_of(client.get(path))["frame-ancestors"].split()


def test_lms_pages_may_be_framed_only_by_registered_platforms(
    school: tuple[Flask, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = school
    client = app.test_client()
    register(app, CANVAS)
    register(app, MOODLE)
    private_link = "/lms/my/plr_" + secrets.token_urlsafe(32)
    for path in ("/lti/launch", "/lms/book", private_link):
        allowed = ancestors(client, path)
        assert "https://moodle.school.example" in allowed, path
        assert "https://canvas.instructure.com" in allowed, path
        assert "https://*.instructure.com" in allowed, "Canvas cloud schools each have a host"
        assert "https://unregistered-lms.example" not in allowed and "*" not in allowed, path
        assert "'none'" not in allowed, path

    platforms.remove(runtime(app), MOODLE.issuer, MOODLE.client_id)
    assert "https://moodle.school.example" not in ancestors(client, "/lti/launch")

    extra = "https://canvas.school.example https://bad.example; script-src * http://plain.example"
    monkeypatch.setenv("LMS_FRAME_ANCESTORS", extra)
    allowed = ancestors(client, "/lms/book")
    assert "https://canvas.school.example" in allowed, "an LMS on its own domain, by setting"
    assert "https://bad.example;" not in allowed and "script-src" not in allowed
    assert "http://plain.example" not in allowed and "*" not in allowed


def test_when_the_platforms_cannot_be_read_the_page_still_comes_framed_by_nobody(
    school: tuple[Flask, World],
) -> None:
    app, _ = school
    register(app, MOODLE)
    engine = runtime(app).engine  # as if the LTI tables were gone or unreadable:
    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {PLATFORMS.name}{cascade}"))
    response = app.test_client().get("/lms/book")
    assert response.status_code == 401 and response.mimetype == "text/html", "the page, not a 500"
    assert policy_of(response)["frame-ancestors"] == "'none'"
