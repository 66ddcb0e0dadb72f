"""Rate limits on the anonymous ways in: request intake, token look-ups, LTI, console sign-in.

Counters live in memory, or in Redis when PEERLINE_TEST_REDIS_URL is set; each app gets its
own secret key, and counter keys are keyed hashes under it, so every test starts with fresh
counters and no test waits for a window to pass. Windows are an hour long, so a slow test
never sees one close.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.clock import FrozenClock
from core.runtime import runtime
from lms.plugin import init_app as lms_plugin
from tests.conftest import REDIS_ENV, make_app
from tests.helpers import auth, issue_token, make_world, request_body
from tests.processes import free_port

CLIENT = "203.0.113.7"
OTHER = "198.51.100.9"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> str | None:
    """Where the counters live: this process's memory, or the test Redis."""
    if request.param == "memory":
        return None
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} not set: the Redis-backed counters are not tested")
    return url


def limited_app(
    database_url: str, tmp_path: Path, clock: FrozenClock, redis_url: str | None, **settings: Any
) -> Flask:
    """An app with the given low limits (the rest at their defaults) and program 'acme'."""
    app = make_app(
        database_url,
        tmp_path,
        clock,
        plugins=[("lms", lms_plugin)],
        redis_url=redis_url,
        secret_key=settings.pop("secret_key", secrets.token_urlsafe(48)),
        **settings,
    )
    make_world(app, app.test_client())
    return app


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def assert_api_429(response: TestResponse) -> None:
    """The API's one error shape, and when to come back."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.json is not None
    assert response.json["error"]["code"] == "too_many_requests"
    assert "try again in" in response.json["error"]["message"]
    assert set(response.json) == {"error"}
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.headers["Cache-Control"] == "no-store"


def assert_page_429(response: TestResponse) -> str:
    """A page that says what happened and when to try again, never a dead end."""
    page = response.get_data(as_text=True)
    assert response.status_code == 429, page
    assert response.mimetype == "text/html"
    assert "Please wait a moment" in page and "not a crisis service" in page
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    return page


def test_intake_over_the_limit_gets_429_with_the_api_error_and_retry_after(
    database_url: str, tmp_path: Path, clock: FrozenClock, storage: str | None
) -> None:
    app = limited_app(database_url, tmp_path, clock, storage, rate_limit_intake="2 per hour")
    client = from_address(app, CLIENT)
    for _ in range(2):
        assert client.post("/api/v1/requests", json=request_body()).status_code == 201
    refused = client.post("/api/v1/requests", json=request_body())
    assert_api_429(refused)
    assert int(refused.headers["Retry-After"]) > 3500, "the hour's window has just begun"

    document = client.get("/api/v1/openapi.json").json
    assert document is not None
    assert "429" in document["paths"]["/api/v1/requests"]["post"]["responses"]


def test_one_address_over_the_limit_does_not_block_another(
    database_url: str, tmp_path: Path, clock: FrozenClock, storage: str | None
) -> None:
    app = limited_app(database_url, tmp_path, clock, storage, rate_limit_lookup="2 per hour")
    first, second = from_address(app, CLIENT), from_address(app, OTHER)
    for _ in range(2):
        assert first.get("/api/v1/programs/acme/intake").status_code == 200
    assert_api_429(first.get("/api/v1/programs/acme/intake"))
    assert second.get("/api/v1/programs/acme/intake").status_code == 200


def test_behind_a_proxy_each_real_client_has_its_own_counter(
    tmp_path: Path, clock: FrozenClock
) -> None:
    url = f"sqlite:///{tmp_path / 'proxy.sqlite3'}"
    app = limited_app(
        url, tmp_path, clock, None, rate_limit_lookup="1 per hour", trust_proxy_hops=1
    )
    proxy = from_address(app, "127.0.0.1")  # every request arrives from the TLS proxy

    def through(client_address: str) -> TestResponse:
        headers = {"X-Forwarded-For": client_address}
        return proxy.get("/api/v1/programs/acme/intake", headers=headers)

    assert through(CLIENT).status_code == 200
    assert_api_429(through(CLIENT))
    assert through(OTHER).status_code == 200, "the proxy's address is not the key"


def test_two_app_processes_sharing_redis_share_the_counter(
    tmp_path: Path, clock: FrozenClock
) -> None:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} not set: shared Redis counters are not tested")
    shared: dict[str, Any] = {"secret_key": secrets.token_urlsafe(48)}  # one deployment
    apps = [
        limited_app(
            f"sqlite:///{tmp_path / name}.sqlite3",
            tmp_path / name,
            clock,
            url,
            rate_limit_lookup="3 per hour",
            **dict(shared),
        )
        for name in ("a", "b")
    ]
    first, second = (from_address(app, CLIENT) for app in apps)
    assert first.get("/api/v1/programs/acme/intake").status_code == 200
    assert second.get("/api/v1/programs/acme/intake").status_code == 200
    assert first.get("/api/v1/programs/acme/intake").status_code == 200
    assert_api_429(second.get("/api/v1/programs/acme/intake"))


def test_a_token_is_limited_from_every_address_and_guessing_is_limited_per_address(
    database_url: str, tmp_path: Path, clock: FrozenClock, storage: str | None
) -> None:
    app = limited_app(
        database_url,
        tmp_path,
        clock,
        storage,
        rate_limit_per_token="2 per hour",
        rate_limit_token="4 per hour",
    )
    asker = from_address(app, CLIENT)
    made = asker.post("/api/v1/requests", json=request_body()).json
    assert made is not None
    mine = f"/api/v1/requests/{made['id']}"
    assert asker.get(mine, headers=auth(made["token"])).status_code == 200
    assert asker.get(mine, headers=auth(made["token"])).status_code == 200
    elsewhere = from_address(app, OTHER)
    assert_api_429(elsewhere.get(mine, headers=auth(made["token"])))  # the token's own count

    guesser = from_address(app, "192.0.2.44")
    for _ in range(4):
        guess = "plr_" + secrets.token_urlsafe(32)
        assert guesser.get(mine, headers=auth(guess)).status_code == 401
    assert_api_429(guesser.get(mine, headers=auth("plr_" + secrets.token_urlsafe(32))))


def test_private_links_feeds_and_lti_over_the_limit_get_a_page(
    database_url: str, tmp_path: Path, clock: FrozenClock, storage: str | None
) -> None:
    app = limited_app(
        database_url,
        tmp_path,
        clock,
        storage,
        rate_limit_token="1 per hour",
        rate_limit_feed="1 per hour",
        rate_limit_lti="1 per hour",
    )
    client = from_address(app, CLIENT)
    link = "/lms/my/plr_" + secrets.token_urlsafe(32)
    assert client.get(link).status_code == 404
    page = assert_page_429(client.get(link))
    assert "plr_" not in page
    assert client.get(link).headers["Referrer-Policy"] == "no-referrer"

    feed = "/feeds/plf_" + secrets.token_urlsafe(32) + ".ics"
    assert client.get(feed).status_code == 404
    assert_page_429(client.get(feed))

    assert client.get("/lti/login").status_code == 400  # no issuer: refused, but counted
    assert_page_429(client.post("/lti/launch"))


def sign_in(client: FlaskClient, email: str) -> TestResponse:
    page = client.get("/console/sign-in").get_data(as_text=True)
    found = _CSRF.search(page)
    assert found, "the sign-in page has its CSRF token"
    form = {"csrf_token": found.group(1), "email": email, "password": "not the password"}
    return client.post("/console/sign-in", data=form)


def test_console_sign_in_is_limited_per_account_and_per_address(
    database_url: str, tmp_path: Path, clock: FrozenClock, storage: str | None
) -> None:
    app = limited_app(
        database_url,
        tmp_path,
        clock,
        storage,
        rate_limit_sign_in_account="2 per hour",
        rate_limit_sign_in="4 per hour",
    )
    client = from_address(app, CLIENT)
    assert sign_in(client, "admin@acme.test").status_code == 401
    assert sign_in(client, "Admin@ACME.test ").status_code == 401  # the same account
    page = assert_page_429(sign_in(client, "admin@acme.test"))
    assert "admin@acme.test" not in page
    assert sign_in(from_address(app, OTHER), "admin@acme.test").status_code == 429, (
        "guessing one account's password is slow from every address"
    )
    assert sign_in(client, "coordinator@acme.test").status_code == 401, "another account"
    others = [sign_in(client, f"guess{n}@acme.test").status_code for n in range(3)]
    assert 429 in others, f"at most four counted tries from one address: {others}"


def test_staff_and_integrations_with_api_tokens_are_not_limited(
    tmp_path: Path, clock: FrozenClock
) -> None:
    url = f"sqlite:///{tmp_path / 'staff.sqlite3'}"
    app = limited_app(url, tmp_path, clock, None, rate_limit_intake="1 per hour")
    client = from_address(app, CLIENT)
    service = issue_token(app, "service", "acme")
    for _ in range(3):
        made = client.post("/api/v1/requests", json=request_body(), headers=auth(service))
        assert made.status_code == 201, made.json
    assert client.post("/api/v1/requests", json=request_body()).status_code == 201
    assert_api_429(client.post("/api/v1/requests", json=request_body()))
    forged = auth("plt_" + secrets.token_urlsafe(32))
    assert_api_429(client.post("/api/v1/requests", json=request_body(), headers=forged))


def test_limits_can_be_turned_off(tmp_path: Path, clock: FrozenClock) -> None:
    url = f"sqlite:///{tmp_path / 'off.sqlite3'}"
    app = limited_app(
        url, tmp_path, clock, None, rate_limit_lookup="1 per hour", rate_limits_enabled=False
    )
    client = from_address(app, CLIENT)
    assert [client.get("/api/v1/programs/acme/intake").status_code for _ in range(3)] == [200] * 3


class PasswordRedis:
    """A private redis-server with a password, to be killed mid-test."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: the Redis outage test needs its own")
        self.port, self.password = free_port(), secrets.token_urlsafe(16)
        folder.mkdir(parents=True, exist_ok=True)
        options = ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        options += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not self._listening():
            assert self.process.poll() is None and time.monotonic() < deadline, "no redis-server"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[PasswordRedis]:
    server = PasswordRedis(tmp_path / "redis")
    yield server
    server.kill()


def test_with_redis_down_the_app_still_answers_and_logs_no_secret(
    tmp_path: Path,
    clock: FrozenClock,
    password_redis: PasswordRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"sqlite:///{tmp_path / 'down.sqlite3'}"
    app = limited_app(url, tmp_path, clock, password_redis.url, rate_limit_lookup="2 per hour")
    client = from_address(app, CLIENT)
    assert client.get("/api/v1/programs/acme/intake").status_code == 200  # counted in Redis
    password_redis.kill()
    caplog.set_level(logging.INFO)
    answers = [client.get("/api/v1/programs/acme/intake").status_code for _ in range(4)]
    assert 500 not in answers and answers[0] == 200, answers
    assert 429 in answers, "counting goes on in this process's memory meanwhile"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("storage unreachable" in r.getMessage() for r in warnings), caplog.text
    assert password_redis.password not in caplog.text
    assert CLIENT not in caplog.text
    runtime(app).engine.dispose()
