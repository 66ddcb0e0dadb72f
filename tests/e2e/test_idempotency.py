"""A retried POST with the same Idempotency-Key gets the first answer; it never acts twice."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import func, select

from core.models import IdempotencyRecord, SupportRequest
from core.runtime import runtime
from core.services import retention
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body, system_ctx
from tests.live_server import live_server, race

ASK = request_body()


def count(app, model) -> int:
    with runtime(app).session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_a_retry_gets_the_first_answer_and_creates_nothing_new(app, client):
    world = make_world(app, client)
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    headers = key()
    first = client.post("/api/v1/requests", json=ASK, headers=headers)
    again = client.post("/api/v1/requests", json=ASK, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json, "same id, same token, same alias"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, SupportRequest) == 1
    other = client.post("/api/v1/requests", json=ASK, headers=key())
    assert other.json["id"] != first.json["id"]


def test_a_key_reused_for_a_different_body_is_refused(app, client):
    make_world(app, client)
    headers = key()
    client.post("/api/v1/requests", json=ASK, headers=headers)
    reused = client.post("/api/v1/requests", json={**ASK, "topic": "grief"}, headers=headers)
    assert reused.status_code == 422 and reused.json["error"]["field"] == "Idempotency-Key"
    assert count(app, SupportRequest) == 1


def test_a_failed_attempt_is_forgotten_so_the_retry_runs(app, client):
    world = make_world(app, client)
    ash = world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    slot = client.get(
        "/api/v1/slots?program=acme&from=2026-03-05T09:00:00Z&to=2026-03-05T12:00:00Z"
    ).json["slots"][0]
    body = {
        **ASK,
        "urgency": "scheduled",
        "slot": {"supporter_id": ash["id"], "starts_at": slot["starts_at"]},
    }
    taken = client.post("/api/v1/requests", json=body).json
    headers = key()
    assert client.post("/api/v1/requests", json=body, headers=headers).status_code == 409
    client.post(f"/api/v1/requests/{taken['id']}/cancel", json={}, headers=auth(taken["token"]))
    retried = client.post("/api/v1/requests", json=body, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


def test_keys_belong_to_their_caller_and_expire_after_a_day(app, client, clock):
    world = make_world(app, client)
    other = client.post(
        "/api/v1/tokens?program=acme",
        headers=auth(world.admin),
        json={"role": "service", "name": "second bridge"},
    ).json["token"]
    headers = key()
    mine = client.post("/api/v1/requests", json=ASK, headers={**headers, **auth(world.service)})
    theirs = client.post("/api/v1/requests", json=ASK, headers={**headers, **auth(other)})
    assert mine.json["id"] != theirs.json["id"]
    clock.advance(hours=25)
    later = client.post("/api/v1/requests", json=ASK, headers={**headers, **auth(world.service)})
    assert later.json["id"] != mine.json["id"]
    ctx = system_ctx(app)
    with ctx.session:
        assert retention.purge_idempotency_records(ctx) == 1  # theirs; mine was replaced


def test_remembered_answers_are_stored_encrypted(app, client):
    make_world(app, client)
    token = client.post("/api/v1/requests", json=ASK, headers=key()).json["token"]
    with runtime(app).session_factory() as session:
        [stored] = session.scalars(select(IdempotencyRecord.body)).all()
    assert stored is not None and token.encode() not in stored


def test_a_bad_key_is_refused(app, client):
    make_world(app, client)
    response = client.post("/api/v1/requests", json=ASK, headers={"Idempotency-Key": "x" * 201})
    assert response.status_code == 422 and response.json["error"]["field"] == "Idempotency-Key"
    assert count(app, SupportRequest) == 0


@pytest.mark.postgres
def test_the_same_key_sent_ten_times_at_once_acts_once(app, client):
    if runtime(app).engine.dialect.name != "postgresql":
        pytest.skip("the concurrent case is about PostgreSQL")
    make_world(app, client)
    headers = key()
    with live_server(app) as base:

        def send(_: int, start: Callable[[], object]) -> int:
            with requests.Session() as http:
                start()
                return http.post(
                    f"{base}/api/v1/requests", json=ASK, headers=headers, timeout=(5, 20)
                ).status_code

        statuses = Counter(race(10, send))
    assert count(app, SupportRequest) == 1
    assert statuses[201] >= 1 and set(statuses) <= {201, 409}, statuses
