"""Requester tokens, API tokens and feed URLs: unguessable, stored only as digests, revocable,
and a wrong token tells a guesser nothing a malformed one does not."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, select

from core.clock import FrozenClock
from core.runtime import runtime
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.helpers import World, auth, issue_token, make_world, request_body

MIN_BYTES = 16  # 128 bits


@pytest.fixture
def world(database_url: str, tmp_path: Path, clock: FrozenClock) -> World:
    app = make_app(database_url, tmp_path, clock, plugins=[("lms", lms_plugin)])
    made = make_world(app, app.test_client(), kind="school")
    made.add_supporter("Ash")
    return made


def random_bytes_of(token: str, prefix: str) -> bytes:
    assert token.startswith(prefix), token
    body = token.removeprefix(prefix)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def ask(client: FlaskClient) -> dict[str, Any]:
    response = client.post("/api/v1/requests", json=request_body())
    made: dict[str, Any] | None = response.json
    assert response.status_code == 201 and made is not None, made
    return made


def feed_path(client: FlaskClient, token: str, action: str = "") -> str:
    response = client.post(f"/lms/feeds/supporter{action}", headers=auth(token))
    assert response.status_code in (200, 201) and response.json is not None, response.json
    url: str = response.json["url"]
    return url[url.index("/feeds/") :]


def test_every_kind_of_token_carries_at_least_128_random_bits(world: World) -> None:
    client = world.client
    requester = [ask(client)["token"] for _ in range(2)]
    api = [issue_token(world.app, "service", "acme") for _ in range(2)]
    feed = feed_path(client, world.supporter_token("Ash")).removeprefix("/feeds/")
    for token, prefix in [*((t, "plr_") for t in requester), *((t, "plt_") for t in api)]:
        assert len(random_bytes_of(token, prefix)) >= MIN_BYTES
    assert len(random_bytes_of(feed.removesuffix(".ics"), "plf_")) >= MIN_BYTES
    assert len(set(requester)) == 2 and len(set(api)) == 2


def every_stored_value(app: Flask) -> list[str]:
    """Every value in every table of the database, as text."""
    metadata = MetaData()
    engine = runtime(app).engine
    metadata.reflect(engine)
    with engine.connect() as connection:
        return [
            str(value)
            for table in metadata.sorted_tables
            for row in connection.execute(select(table))
            for value in row
            if value is not None
        ]


def test_tokens_are_stored_only_as_digests(world: World) -> None:
    client = world.client
    requester = ask(client)["token"]
    api = issue_token(world.app, "coordinator", "acme")
    feed = feed_path(client, world.supporter_token("Ash")).removeprefix("/feeds/")
    feed = feed.removesuffix(".ics")
    stored = every_stored_value(world.app)
    for token in (requester, api, feed):
        body = token[4:]
        assert not any(body in value for value in stored), f"{token[:4]} token stored in clear"
        assert hashlib.sha256(token.encode()).hexdigest() in stored, "kept as its SHA-256"


def test_a_revoked_feed_url_stops_and_a_new_one_works(world: World) -> None:
    client, supporter = world.client, world.supporter_token("Ash")
    first = feed_path(client, supporter)
    assert client.get(first).status_code == 200
    rotated = feed_path(client, supporter, "/rotate")
    assert rotated != first
    assert client.get(first).status_code == 404, "the old URL dies at once"
    assert client.get(rotated).status_code == 200

    ash_id = world.supporters["Ash"]["id"]
    revoked = client.delete(
        f"/lms/feeds/supporter?supporter_id={ash_id}", headers=auth(world.admin)
    )
    assert revoked.status_code == 204
    assert client.get(rotated).status_code == 404
    fresh = feed_path(client, supporter)
    assert fresh not in (first, rotated)
    assert client.get(fresh).status_code == 200


def test_a_revoked_requester_token_stops_opening_the_request_and_its_link(world: World) -> None:
    client = world.client
    made, other = ask(client), ask(client)
    mine = f"/api/v1/requests/{made['id']}"
    assert client.get(mine, headers=auth(made["token"])).status_code == 200
    assert client.get(f"/lms/my/{made['token']}").status_code == 200

    stranger = client.delete(f"{mine}/token", headers=auth(other["token"]))
    assert stranger.status_code == 404, "another requester cannot end this one's link"
    supporter = client.delete(f"{mine}/token", headers=auth(world.supporter_token("Ash")))
    assert supporter.status_code == 403
    assert client.delete(f"{mine}/token", headers=auth(made["token"])).status_code == 204

    assert client.get(mine, headers=auth(made["token"])).status_code == 401
    assert client.get(f"/lms/my/{made['token']}").status_code == 404
    untouched = client.get(f"/api/v1/requests/{other['id']}", headers=auth(other["token"]))
    assert untouched.status_code == 200, "only that one token ended"
    kept = client.get(mine, headers=auth(world.service))
    assert kept.status_code == 200 and kept.json is not None, "the request itself stays"
    assert kept.json["status"] != "closed"

    ended = client.delete(f"/api/v1/requests/{other['id']}/token", headers=auth(world.service))
    assert ended.status_code == 204
    assert client.get(f"/lms/my/{other['token']}").status_code == 404, "an integration may too"


def same_answer(responses: list[Any]) -> None:
    statuses = {r.status_code for r in responses}
    bodies = {r.get_data(as_text=True) for r in responses}
    assert len(statuses) == 1 and len(bodies) == 1, (statuses, bodies)


def test_a_wrong_token_gets_the_same_answer_as_a_malformed_one(world: World) -> None:
    client = world.client
    made = ask(client)
    revoked = ask(client)
    client.delete(f"/api/v1/requests/{revoked['id']}/token", headers=auth(revoked["token"]))
    guesses = {
        "right shape": "plr_" + secrets.token_urlsafe(32),
        "revoked": revoked["token"],
        "too short": "plr_abc",
        "no prefix": secrets.token_urlsafe(32),
        "api shape": "plt_" + secrets.token_urlsafe(32),
    }
    mine = f"/api/v1/requests/{made['id']}"
    same_answer([client.get(mine, headers=auth(guess)) for guess in guesses.values()])
    same_answer([client.get(f"/lms/my/{guess}") for guess in guesses.values()])

    supporter = world.supporter_token("Ash")
    dead_feed = feed_path(client, supporter).removeprefix("/feeds/").removesuffix(".ics")
    feed_path(client, supporter, "/rotate")
    feeds = [
        "plf_" + secrets.token_urlsafe(32),
        dead_feed,
        "plf_short",
        secrets.token_urlsafe(32),
    ]
    same_answer([client.get(f"/feeds/{guess}.ics") for guess in feeds])
