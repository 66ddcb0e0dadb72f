"""Fuzz every API operation from the app's own OpenAPI document, as every kind of caller.

Schemathesis draws requests from the document, valid ones and deliberately broken ones, and
checks each answer: never a 5xx, a documented status, a body and content type matching the
document, and the one error shape (naming the field of a 422) for every refusal. Runs are
seeded and bounded; PEERLINE_FUZZ_EXAMPLES goes deeper, PEERLINE_FUZZ_SEED explores elsewhere.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from core.clock import FrozenClock
from core.notify import deliveries
from core.runtime import runtime
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, auth, issue_token, make_world

PREFIX = "/api/v1"
EXAMPLES = int(os.environ.get("PEERLINE_FUZZ_EXAMPLES") or 0)
SEED = os.environ.get("PEERLINE_FUZZ_SEED")
REFUSED_EXAMPLES = 2  # a role the operation refuses only ever meets 401 or 403
# Callers in an order that keeps each one's token alive while it is fuzzed (admins revoke,
# offboard and cancel last); "forged" sends a well-formed token that was never issued.
ROLES = ("anonymous", "forged", "requester", "supporter", "coordinator", "service", "admin", "root")
# Run last for each caller: they change or end what the other operations need.
ENDINGS = ("/token", "/revoke", "/offboard")


def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx is {"error": {"code", "message"}}; a 422 also names the field."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise AssertionError(f"a {response.status_code} without an 'error' object: {body}")
    for key in ("code", "message"):
        if not isinstance(error.get(key), str) or not error[key]:
            raise AssertionError(f"error.{key} missing or empty: {body}")
    if response.status_code == 422 and not error.get("field"):
        raise AssertionError(f"a 422 that names no field: {body}")
    return None


CHECKS: list[Callable[..., bool | None]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


CHOICES: dict[str, list[Any]] = {  # values the program 'acme' takes, by field name
    "slug": ["acme"],
    "program": ["acme"],
    "time_zone": ["Europe/London", "America/New_York"],
    "tz": ["Asia/Kolkata"],
    "topic": ["stress", "general"],
    "language": ["en", "es"],
    "topics": [["stress"], ["general", "grief"]],
    "languages": [["en"], ["es", "en"]],
    "locale": ["en", "en-GB"],
}


@dataclass
class Seeds:
    """Callers' tokens, and records that exist so fuzzed ids sometimes hit something real."""

    tokens: dict[str, str]
    known: dict[str, list[Any]]


def plant(app: Flask, client: FlaskClient) -> Seeds:
    """A program with two supporters, a training, time off, offers, a booking, a dead letter."""
    world = make_world(app, client)
    fox = world.add_supporter("Mentor Fox", weekly=EVERY_WEEKDAY)
    owl = world.add_supporter("Mentor Owl", weekly=EVERY_WEEKDAY)
    admin = auth(world.admin)

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = admin) -> Any:
        response = client.post(f"{PREFIX}{path}", json=body, headers=headers)
        assert response.status_code == 201, (path, response.json)
        return response.json

    training = post(
        f"/supporters/{fox['id']}/trainings", {"name": "Peer basics", "completed_on": "2026-01-10"}
    )
    day_off = {"date": "2026-03-20", "available": False}
    override = post(f"/supporters/{owl['id']}/overrides", day_off)
    ask = {"program": "acme", "mode": "text", "language": "en"}
    now = post("/requests", {**ask, "topic": "stress", "urgency": "now", "note": "hard week"}, {})
    scheduled, service = {**ask, "topic": "general", "urgency": "scheduled"}, auth(world.service)
    later, *open_ = (post("/requests", scheduled, service) for _ in range(3))
    slots = client.get(f"{PREFIX}/slots?program=acme&supporter={owl['id']}").json["slots"]
    booking = post(
        "/bookings",
        {"request_id": later["id"], "supporter_id": owl["id"], "starts_at": slots[0]["starts_at"]},
        auth(later["token"]),
    )
    offers = client.get(f"{PREFIX}/offers?program=acme", headers=service).json
    spare = post("/tokens", {"role": "service", "name": "spare"})
    return Seeds(
        tokens={
            "anonymous": "",
            "forged": "plt_" + "A" * 43,
            "requester": later["token"],
            "supporter": world.supporter_token("Mentor Fox"),
            "coordinator": issue_token(app, "coordinator", "acme"),
            "service": world.service,
            "admin": world.admin,
            "root": issue_token(app, "admin", None),
        },
        known={
            "supporter": [fox["id"], owl["id"]],
            "training": [training["id"]],
            "override": [override["id"]],
            "request": [now["id"], later["id"], *(r["id"] for r in open_)],
            "starts_at": [slot["starts_at"] for slot in slots[1:7]],
            "offer": [o["id"] for o in offers],
            "booking": [booking["id"]],
            "delivery": _dead_letters(app, client, admin),
            "token": [spare["id"]],
            **CHOICES,
        },
    )


def _dead_letters(app: Flask, client: FlaskClient, admin: dict[str, str]) -> list[str]:
    current = runtime(app)
    for delivery_id in deliveries.due(current):  # no channel is installed: each goes dead
        deliveries.attempt(current, delivery_id)
    dead = client.get(f"{PREFIX}/deliveries/dead?program=acme", headers=admin).json
    return [letter["id"] for letter in dead]


def enrich(case: Any, seeds: Seeds, data: st.DataObject) -> None:
    """Now and then, swap a generated id, slug or choice for one the program knows."""
    body = case.body if isinstance(case.body, dict) else {}
    nested = [value for value in body.values() if isinstance(value, dict)]
    for container in (case.path_parameters, case.query, body, *nested):
        for name in list(container or {}):
            known = seeds.known.get(name.removesuffix("_id"))
            if known and data.draw(st.integers(0, 3), label=f"swap {name}") < 3:  # mostly
                container[name] = data.draw(st.sampled_from(known), label=name)


@dataclass
class Report:
    examples: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)

    def record(self, label: str, mode: GenerationMode, group: FailureGroup) -> None:
        for failure in group.exceptions:
            first = (failure.message.strip().splitlines() or [""])[0]
            key = f"{label} [{mode.value}] {failure.title}: {first}"
            self.failures.setdefault(key, str(group)[:3000])

    def summary(self) -> str:
        by_operation: dict[str, list[str]] = {}
        for (label, status), count in sorted(self.statuses.items()):
            by_operation.setdefault(label, []).append(f"{status}x{count}")
        return "\n".join(f"  {label}: {' '.join(codes)}" for label, codes in by_operation.items())


@dataclass(frozen=True)
class Caller:
    headers: dict[str, str]
    seeds: Seeds
    report: Report


def fuzz(operation: Any, mode: GenerationMode, caller: Caller, examples: int) -> None:
    """Valid or broken requests to one operation, each answer checked against the document."""
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    report = caller.report

    @settings(
        max_examples=examples,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            enrich(case, caller.seeds, data)
        response = case.call(headers=caller.headers)
        report.examples += 1
        report.statuses[operation.label, response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=caller.headers)
        except FailureGroup as group:
            report.record(operation.label, mode, group)

    try:
        (seed(int(SEED))(run) if SEED is not None else run)()
    except Unsatisfiable:  # nothing in this operation's request can be broken
        assert mode is GenerationMode.NEGATIVE


def fuzz_app_all(app: Flask, examples: int, roles: tuple[str, ...] = ROLES) -> Report:
    """Every operation as each caller; a caller the operation refuses gets a couple of tries."""
    seeds = plant(app, app.test_client())
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)  # we send the tokens
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), "the fuzzer cannot read them all"
    operations = sorted(
        (result.ok() for result in results if isinstance(result, Ok)),
        key=lambda op: op.method.upper() in ("PATCH", "DELETE") or op.path.endswith(ENDINGS),
    )
    report = Report()
    for role in roles:
        token = seeds.tokens[role]
        caller = Caller(auth(token) if token else {}, seeds, report)
        for operation in operations:
            allowed = role.replace("root", "admin") in operation.definition.raw["x-roles"]
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz(operation, mode, caller, examples if allowed else REFUSED_EXAMPLES)
    return report


@pytest.fixture
def fuzz_app(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    """Rate limits off: they would answer 429 long before the fuzz reached the service."""
    application = make_app(database_url, tmp_path, clock, rate_limits_enabled=False)
    yield application
    runtime(application).engine.dispose()


def test_every_operation_survives_fuzzing_as_documented(fuzz_app: Flask, database_url: str) -> None:
    examples = EXAMPLES or (20 if database_url.startswith("sqlite") else 8)
    started = time.monotonic()
    report = fuzz_app_all(fuzz_app, examples)
    print(
        f"\nfuzzed {len({label for label, _ in report.statuses})} operations with "
        f"{report.examples} requests in {time.monotonic() - started:.0f}s:\n{report.summary()}"
    )
    assert not report.failures, "\n\n".join(
        f"{key}\n{detail}" for key, detail in sorted(report.failures.items())
    )


def test_rate_limited_answers_are_documented(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    """With tiny limits the anonymous ways in answer 429: documented, in the error shape."""
    tight = "3 per hour"
    app = make_app(
        database_url,
        tmp_path,
        clock,
        **{f"rate_limit_{kind}": tight for kind in ("intake", "lookup", "token", "per_token")},
    )
    try:
        report = fuzz_app_all(app, 3, roles=("anonymous", "forged", "requester"))
        doc = app.test_client().get(f"{PREFIX}/openapi.json").get_json()
    finally:
        runtime(app).engine.dispose()
    assert not report.failures, "\n\n".join(sorted(report.failures.values()))
    limited = {label for label, status in report.statuses if status == 429}
    assert limited == {
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if {"anonymous", "requester"} & set(op["x-roles"])
    }
