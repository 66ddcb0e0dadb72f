"""Bad input to every operation: a clear 4xx in the one error shape, never a 5xx, nothing stored.

The table below names every operation of the OpenAPI document with a token of an allowed role
and a valid body; the generic cases mutate that body or its query, so a new endpoint without an
entry fails `test_table_covers_every_documented_operation`.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select

from core.api import BLUEPRINTS
from core.api.framework import openapi_path
from core.api.openapi import NO_NUL
from core.clock import FrozenClock
from core.models import Base
from core.runtime import runtime
from tests.conftest import make_app
from tests.e2e.test_openapi import PREFIX, DocumentedClient, documented_client, operations
from tests.helpers import EVERY_WEEKDAY, auth, issue_token, make_world

PAST, NAIVE = "2026-03-03T10:00:00Z", "2026-03-05T10:00:00"
# (method, path) -> (role whose token is used, a valid body); "<name>" is replaced by a real id.
TABLE: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    ("GET", "/programs"): ("admin", None),
    ("POST", "/programs"): (
        "root",
        {
            "slug": "globex",
            "name": "Globex",
            "kind": "school",
            "time_zone": "America/New_York",
            "policy": {"session_minutes": 30},
        },
    ),
    ("GET", "/programs/{slug}"): ("admin", None),
    ("PATCH", "/programs/{slug}"): (
        "admin",
        {"name": "Acme", "time_zone": "Europe/Paris", "policy": {"weekly_cap": 4}},
    ),
    ("GET", "/programs/{slug}/intake"): ("anonymous", None),
    ("GET", "/supporters"): ("admin", None),
    ("POST", "/supporters"): (
        "admin",
        {
            "alias": "Mentor Owl",
            "time_zone": "Europe/London",
            "languages": ["en"],
            "topics": ["stress"],
            "weekly_cap": 3,
        },
    ),
    ("GET", "/supporters/{supporter_id}"): ("coordinator", None),
    ("PATCH", "/supporters/{supporter_id}"): ("admin", {"alias": "Mentor Lynx", "weekly_cap": 4}),
    ("POST", "/supporters/{supporter_id}/pause"): ("coordinator", None),
    ("POST", "/supporters/{supporter_id}/resume"): ("coordinator", None),
    ("POST", "/supporters/{supporter_id}/offboard"): ("admin", None),
    ("GET", "/supporters/{supporter_id}/trainings"): ("coordinator", None),
    ("POST", "/supporters/{supporter_id}/trainings"): (
        "coordinator",
        {"name": "Peer basics", "completed_on": "2026-01-10", "expires_on": "2029-01-10"},
    ),
    ("DELETE", "/supporters/{supporter_id}/trainings/{training_id}"): ("coordinator", None),
    ("GET", "/supporters/{supporter_id}/availability"): ("supporter", None),
    ("PUT", "/supporters/{supporter_id}/availability"): (
        "supporter",
        {"weekly": [{"weekday": "mon", "start": "09:00", "end": "17:00"}]},
    ),
    ("GET", "/supporters/{supporter_id}/overrides"): ("supporter", None),
    ("POST", "/supporters/{supporter_id}/overrides"): (
        "supporter",
        {"date": "2026-03-20", "available": True, "start": "10:00", "end": "12:00"},
    ),
    ("DELETE", "/supporters/{supporter_id}/overrides/{override_id}"): ("supporter", None),
    ("GET", "/slots"): ("anonymous", None),
    ("POST", "/bookings"): (
        "service",
        {"request_id": "<open_request>", "supporter_id": "<supporter_id>", "starts_at": "<slot>"},
    ),
    ("GET", "/bookings"): ("coordinator", None),
    ("GET", "/bookings/{booking_id}"): ("coordinator", None),
    ("POST", "/bookings/{booking_id}/cancel"): ("requester", {"reason": "clash"}),
    ("POST", "/bookings/{booking_id}/reschedule"): ("service", {"starts_at": "<slot>"}),
    ("POST", "/requests"): (
        "service",
        {
            "program": "acme",
            "topic": "stress",
            "urgency": "scheduled",
            "mode": "text",
            "language": "en",
            "locale": "en-GB",
            "note": "a hard week",
            "slot": {"supporter_id": "<supporter_id>", "starts_at": "<slot>"},
            "requester": {"platform": "slack", "subject": "T1:U9"},
            "channel": "slack",
        },
    ),
    ("GET", "/requests/{request_id}"): ("requester", None),
    ("GET", "/requests/{request_id}/assigned"): ("service", None),
    ("POST", "/requests/{request_id}/cancel"): ("requester", {"reason": "changed my mind"}),
    ("POST", "/requests/{request_id}/start-chat"): ("service", None),
    ("POST", "/requests/{request_id}/close"): ("service", {"outcome": "completed"}),
    ("POST", "/requests/{request_id}/feedback"): ("requester", {"rating": 4, "comment": "kind"}),
    ("DELETE", "/requests/{request_id}/token"): ("requester", None),
    ("GET", "/offers"): ("supporter", None),
    ("POST", "/offers/{offer_id}/accept"): ("supporter", None),
    ("POST", "/offers/{offer_id}/decline"): ("supporter", None),
    ("GET", "/audit"): ("coordinator", None),
    ("GET", "/tokens"): ("admin", None),
    ("POST", "/tokens"): ("admin", {"role": "coordinator", "name": "console"}),
    ("POST", "/tokens/{token_id}/revoke"): ("admin", None),
    ("GET", "/deliveries/summary"): ("coordinator", None),
    ("GET", "/deliveries/dead"): ("coordinator", None),
    ("POST", "/deliveries/{delivery_id}/retry"): ("admin", None),
}


@dataclass
class Scene:
    """A program with a supporter, a booked, an open and an offered request, and every token."""

    app: Flask
    client: DocumentedClient
    doc: dict[str, Any]
    tokens: dict[str, str]
    ids: dict[str, str]
    before: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    failures: list[str] = dataclasses.field(default_factory=list)

    @contextmanager
    def case(self, label: str) -> Iterator[None]:
        """Collect a failing case and go on, so one run reports every broken operation."""
        try:
            yield
        except AssertionError as exc:
            self.failures.append(f"{label}: {exc}")

    def assert_no_failures(self) -> None:
        assert not self.failures, f"{len(self.failures)} failing:\n" + "\n".join(self.failures)

    def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            return self.ids[value[1:-1]]
        return value

    def url(self, path: str, query: str = "", **ids: str) -> str:
        filled = path
        for name, value in {**self.ids, **ids}.items():
            filled = filled.replace("{" + name + "}", quote(value, safe=""))
        return PREFIX + filled + (f"?{query}" if query else "")

    def call(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: Any = None,
        raw: str | bytes | None = None,
        content_type: str | None = "application/json",
        role: str | None = None,
        **ids: str,
    ) -> Any:
        role = role or TABLE[(method, path)][0]
        headers = auth(self.tokens[role]) if role != "anonymous" else {}
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        if content_type is not None and data is not None:
            headers["Content-Type"] = content_type
        return self.client.open(
            self.url(path, query, **ids), method=method, data=data, headers=headers
        )

    def base(self, method: str, path: str) -> dict[str, Any]:
        body = TABLE[(method, path)][1]
        assert body is not None
        return self.fill(body)  # type: ignore[no-any-return]


def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table: stronger than row counts, it also catches updates."""
    with runtime(app).engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    """Hundreds of calls with one requester token: the rate limits would answer most of them."""
    application = make_app(database_url, tmp_path, clock, rate_limits_enabled=False)
    yield application
    runtime(application).engine.dispose()


@pytest.fixture
def scene(app: Flask) -> Scene:
    client = documented_client(app)
    world = make_world(app, client)
    fox = world.add_supporter("Mentor Fox", weekly=EVERY_WEEKDAY)
    tokens = {
        "admin": world.admin,
        "service": world.service,
        "root": issue_token(app, "admin", None),
        "coordinator": issue_token(app, "coordinator", "acme"),
        "supporter": world.supporter_token("Mentor Fox"),
    }
    service = auth(world.service)
    api = PREFIX

    def created(response: Any) -> Any:
        assert response.status_code in (200, 201), response.json
        return response.json

    slots = created(client.get(f"{api}/slots?program=acme"))["slots"]
    booked = created(
        client.post(
            f"{api}/requests",
            headers=service,
            json={
                "program": "acme",
                "topic": "stress",
                "urgency": "scheduled",
                "mode": "text",
                "language": "en",
                "slot": {"supporter_id": fox["id"], "starts_at": slots[0]["starts_at"]},
            },
        )
    )
    waiting = created(
        client.post(
            f"{api}/requests",
            headers=service,
            json={
                "program": "acme",
                "topic": "stress",
                "urgency": "scheduled",
                "mode": "text",
                "language": "en",
            },
        )
    )
    created(
        client.post(
            f"{api}/requests",
            headers=service,
            json={
                "program": "acme",
                "topic": "general",
                "urgency": "now",
                "mode": "text",
                "language": "en",
            },
        )
    )
    [offer] = created(client.get(f"{api}/offers?program=acme", headers=service))
    tokens["requester"] = booked["token"]
    training = created(
        client.post(
            f"{api}/supporters/{fox['id']}/trainings",
            headers=auth(world.admin),
            json={"name": "Basics", "completed_on": "2026-01-01"},
        )
    )
    override = created(
        client.post(
            f"{api}/supporters/{fox['id']}/overrides",
            headers=auth(world.admin),
            json={"date": "2026-03-27", "available": False},
        )
    )
    token_id = created(client.get(f"{api}/tokens", headers=auth(world.admin)))[0]["id"]
    ids = {
        "slug": "acme",
        "supporter_id": fox["id"],
        "training_id": training["id"],
        "override_id": override["id"],
        "booking_id": booked["booking"]["id"],
        "request_id": booked["id"],
        "open_request": waiting["id"],
        "offer_id": offer["id"],
        "token_id": token_id,
        "delivery_id": str(_any_delivery(app)),
        "slot": slots[-1]["starts_at"],
    }
    doc = client.get(f"{api}/openapi.json").json
    return Scene(app, client, doc, tokens, ids, before=snapshot(app))


def _any_delivery(app: Flask) -> Any:
    from core.models import Delivery

    with runtime(app).session_factory() as session:
        return session.scalars(select(Delivery.id)).first()


def expect(
    scene: Scene, response: Any, status: int, code: str | None = None, field: str | None = None
) -> None:
    """The one error shape with this status (and code, field), and nothing stored."""
    stored = snapshot(scene.app) != scene.before
    if stored:
        scene.before = snapshot(scene.app)
    where = f"{response.request.method} {response.request.full_path}"
    assert not stored, f"{where} stored something"
    assert response.status_code == status, (where, response.status_code, response.json)
    error = response.json["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), where
    if code is not None:
        assert error["code"] == code, (where, error)
    if field is not None:
        given = error.get("field") or ""
        assert given == field or given.startswith(f"{field}."), (where, error)


BODY_OPERATIONS = [key for key, (_, body) in TABLE.items() if body is not None]


def test_table_covers_every_documented_operation(scene):
    documented = {(m, p.removeprefix(PREFIX)): op for (m, p), op in operations(scene.doc).items()}
    assert set(TABLE) == set(documented), sorted(set(TABLE) ^ set(documented))
    models = {
        (op.method, openapi_path(op.rule)): op.body for bp in BLUEPRINTS for op in bp.operations
    }
    for key, (role, body) in TABLE.items():
        assert {"root": "admin"}.get(role, role) in documented[key]["x-roles"], key
        assert (body is None) == ("requestBody" not in documented[key]), key
        if body is not None:
            models[key].model_validate_json(json.dumps(scene.fill(body)))  # the base is valid


MALFORMED = [
    ("", 400, "malformed_json"),
    ("{", 400, "malformed_json"),
    ("{'single': 'quotes'}", 400, "malformed_json"),
    ('{"a": 1,}', 400, "malformed_json"),
    ("[1, 2]", 422, "validation_failed"),
    ("null", 422, "validation_failed"),
    ('"text"', 422, "validation_failed"),
]
MEDIA = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]


def test_malformed_bodies_and_media_types(scene):
    for method, path in BODY_OPERATIONS:
        for raw, status, code in MALFORMED:
            with scene.case(f"{method} {path} {raw!r}"):
                response = scene.call(method, path, raw=raw)
                expect(scene, response, status, code, "body" if status == 400 else None)
        valid = json.dumps(scene.base(method, path))
        for media in MEDIA:
            with scene.case(f"{method} {path} as {media}"):
                response = scene.call(method, path, raw=valid, content_type=media)
                expect(scene, response, 415, "unsupported_media_type")
        with scene.case(f"{method} {path} over 256 KiB"):
            oversized = json.dumps({**scene.base(method, path), "padding": "x" * (256 * 1024)})
            expect(scene, scene.call(method, path, raw=oversized), 413)
    scene.assert_no_failures()


def test_unknown_fields_and_query_parameters(scene):
    for method, path in TABLE:
        body = scene.base(method, path) if TABLE[(method, path)][1] is not None else None
        if body is not None:
            with scene.case(f"{method} {path} unknown field"):
                response = scene.call(method, path, body={**body, "zzz_unknown": 1})
                expect(scene, response, 422, "validation_failed", "zzz_unknown")
        with scene.case(f"{method} {path} unknown parameter"):
            query = "zzz_unknown=1" + ("&program=acme" if path == "/slots" else "")
            response = scene.call(method, path, query=query, body=body)
            expect(scene, response, 422, "validation_failed", "zzz_unknown")
    scene.assert_no_failures()


def json_types(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return json_types(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema:
        return {t for option in schema["anyOf"] for t in json_types(option, components)}
    if "enum" in schema:
        return {"string" if isinstance(v, str) else "integer" for v in schema["enum"]}
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def wrong_json_value(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value of a JSON type the field does not take: an int for text, text for anything else."""
    types = json_types(schema, components)
    if "string" in types:
        return 12345 if not types & {"integer", "number"} else [12345]
    return "12345"


def wrong_query_value(schema: dict[str, Any]) -> str | None:
    for option in [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]:
        if "enum" in option:
            return "bogus-value"
        if option.get("format") in ("uuid", "date"):
            return f"not-a-{option['format']}"
        if option.get("format") == "date-time":
            return NAIVE  # no offset: naive datetimes are refused everywhere
        if option.get("type") == "integer":
            return "many"
        if option.get("pattern", NO_NUL) != NO_NUL:  # any text but NUL: no pattern to break
            return "!!"
        if "maxLength" in option:
            return "x" * (option["maxLength"] + 1)
    return None


def test_wrong_types_for_every_field_and_parameter(scene):
    components = scene.doc["components"]["schemas"]
    checked = 0
    for (method, path), op in operations(scene.doc).items():
        path = path.removeprefix(PREFIX)
        body = scene.base(method, path) if "requestBody" in op else None
        if body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            for name, schema in components[ref.rsplit("/", 1)[1]]["properties"].items():
                with scene.case(f"{method} {path} body field {name}"):
                    wrong = {**body, name: wrong_json_value(schema, components)}
                    response = scene.call(method, path, body=wrong)
                    expect(scene, response, 422, "validation_failed", name)
                checked += 1
        params = [p for p in op["parameters"] if p["in"] == "query"]
        required = "&".join(f"{p['name']}=acme" for p in params if p["required"])
        for param in params:
            value = wrong_query_value(param["schema"])
            if value is None or param["required"]:
                continue
            with scene.case(f"{method} {path} parameter {param['name']}={value}"):
                query = "&".join(filter(None, [required, f"{param['name']}={quote(value)}"]))
                response = scene.call(method, path, query=query, body=body)
                expect(scene, response, 422, "validation_failed", param["name"])
            checked += 1
    scene.assert_no_failures()
    assert checked > 80


def test_unknown_and_malformed_path_ids(scene):
    for method, path in TABLE:
        body = scene.base(method, path) if TABLE[(method, path)][1] is not None else None
        for name in (
            "supporter_id",
            "training_id",
            "override_id",
            "booking_id",
            "request_id",
            "offer_id",
            "token_id",
        ):
            if "{" + name + "}" not in path:
                continue
            for value in ("not-a-uuid", str(uuid.uuid4())):
                with scene.case(f"{method} {path} {name}={value}"):
                    response = scene.call(method, path, body=body, **{name: value})
                    expect(scene, response, 404, "not_found")
    scene.assert_no_failures()


# label, method, path, query, change to the valid body, status, code, field
DOMAIN: list[tuple[str, str, str, str, dict[str, Any] | None, int, str, str | None]] = [
    (
        "slots: to before from",
        "GET",
        "/slots",
        "program=acme&from=2026-03-06T10:00:00Z&to=2026-03-05T10:00:00Z",
        None,
        422,
        "validation_failed",
        "to",
    ),
    (
        "slots: too long a range",
        "GET",
        "/slots",
        "program=acme&from=2026-03-05T00:00:00Z&to=2026-06-05T00:00:00Z",
        None,
        422,
        "validation_failed",
        "to",
    ),
    (
        "slots: unknown viewer zone",
        "GET",
        "/slots",
        "program=acme&tz=Mars/Olympus",
        None,
        422,
        "validation_failed",
        "tz",
    ),
    (
        "slots: naive from",
        "GET",
        "/slots",
        f"program=acme&from={NAIVE}",
        None,
        422,
        "validation_failed",
        "from",
    ),
    ("audit: naive to", "GET", "/audit", f"to={NAIVE}", None, 422, "validation_failed", "to"),
    (
        "audit: limit above 1000",
        "GET",
        "/audit",
        "limit=1001",
        None,
        422,
        "validation_failed",
        "limit",
    ),
    (
        "program: unknown zone",
        "POST",
        "/programs",
        "",
        {"time_zone": "Mars/Olympus"},
        422,
        "validation_failed",
        "time_zone",
    ),
    (
        "program: report floor below 5",
        "POST",
        "/programs",
        "",
        {"policy": {"min_report_group": 4}},
        422,
        "validation_failed",
        "policy.min_report_group",
    ),
    (
        "program patch: unknown zone",
        "PATCH",
        "/programs/{slug}",
        "",
        {"time_zone": "Europe/Atlantis"},
        422,
        "validation_failed",
        "time_zone",
    ),
    (
        "program patch: unknown policy field",
        "PATCH",
        "/programs/{slug}",
        "",
        {"policy": {"colour": "red"}},
        422,
        "validation_failed",
        "policy.colour",
    ),
    (
        "supporter: unknown zone",
        "POST",
        "/supporters",
        "",
        {"time_zone": "Nowhere/City"},
        422,
        "validation_failed",
        "time_zone",
    ),
    (
        "supporter: alias too long",
        "POST",
        "/supporters",
        "",
        {"alias": "x" * 61},
        422,
        "validation_failed",
        "alias",
    ),
    (
        "supporter: NUL in alias",
        "POST",
        "/supporters",
        "",
        {"alias": "Mentor\x00Owl"},
        422,
        "validation_failed",
        "alias",
    ),
    (
        "supporter: huge cap",
        "POST",
        "/supporters",
        "",
        {"weekly_cap": 10**40},
        422,
        "validation_failed",
        "weekly_cap",
    ),
    (
        "supporter: topic not offered",
        "POST",
        "/supporters",
        "",
        {"topics": ["astrology"]},
        422,
        "validation_failed",
        "topics",
    ),
    (
        "supporter patch: unknown zone",
        "PATCH",
        "/supporters/{supporter_id}",
        "",
        {"time_zone": "UTC+5"},
        422,
        "validation_failed",
        "time_zone",
    ),
    (
        "training: expiry before completion",
        "POST",
        "/supporters/{supporter_id}/trainings",
        "",
        {"expires_on": "2025-01-10"},
        422,
        "validation_failed",
        "expires_on",
    ),
    (
        "weekly: end before start",
        "PUT",
        "/supporters/{supporter_id}/availability",
        "",
        {"weekly": [{"weekday": "mon", "start": "17:00", "end": "09:00"}]},
        422,
        "validation_failed",
        "weekly.0.end",
    ),
    (
        "weekly: overlapping windows",
        "PUT",
        "/supporters/{supporter_id}/availability",
        "",
        {
            "weekly": [
                {"weekday": "mon", "start": "09:00", "end": "12:00"},
                {"weekday": "mon", "start": "11:00", "end": "13:00"},
            ]
        },
        422,
        "validation_failed",
        "weekly",
    ),
    (
        "weekly: not a clock time",
        "PUT",
        "/supporters/{supporter_id}/availability",
        "",
        {"weekly": [{"weekday": "mon", "start": "25:00", "end": "26:00"}]},
        422,
        "validation_failed",
        "weekly.0.start",
    ),
    (
        "override: end before start",
        "POST",
        "/supporters/{supporter_id}/overrides",
        "",
        {"start": "12:00", "end": "10:00"},
        422,
        "validation_failed",
        "end",
    ),
    (
        "override: extra hours without times",
        "POST",
        "/supporters/{supporter_id}/overrides",
        "",
        {"start": None, "end": None},
        422,
        "validation_failed",
        "end",
    ),
    # A past start is a state question, not a format one: that time is not (or no longer) a
    # free slot, so the answer is 409 slot_unavailable, like a slot taken a moment ago.
    (
        "booking: in the past",
        "POST",
        "/bookings",
        "",
        {"starts_at": PAST},
        409,
        "slot_unavailable",
        "starts_at",
    ),
    (
        "booking: naive start",
        "POST",
        "/bookings",
        "",
        {"starts_at": NAIVE},
        422,
        "validation_failed",
        "starts_at",
    ),
    (
        "reschedule: into the past",
        "POST",
        "/bookings/{booking_id}/reschedule",
        "",
        {"starts_at": PAST},
        409,
        "slot_unavailable",
        "starts_at",
    ),
    (
        "reschedule: naive start",
        "POST",
        "/bookings/{booking_id}/reschedule",
        "",
        {"starts_at": NAIVE},
        422,
        "validation_failed",
        "starts_at",
    ),
    (
        "booking cancel: reason too long",
        "POST",
        "/bookings/{booking_id}/cancel",
        "",
        {"reason": "x" * 201},
        422,
        "validation_failed",
        "reason",
    ),
    (
        "request: slot in the past",
        "POST",
        "/requests",
        "",
        {"slot": {"supporter_id": "<supporter_id>", "starts_at": PAST}},
        409,
        "slot_unavailable",
        "starts_at",
    ),
    (
        "request: naive slot",
        "POST",
        "/requests",
        "",
        {"slot": {"supporter_id": "<supporter_id>", "starts_at": NAIVE}},
        422,
        "validation_failed",
        "slot.starts_at",
    ),
    (
        "request: note over 2000 characters",
        "POST",
        "/requests",
        "",
        {"note": "x" * 2001},
        422,
        "validation_failed",
        "note",
    ),
    (
        "request: NUL in note",
        "POST",
        "/requests",
        "",
        {"note": "a\x00b"},
        422,
        "validation_failed",
        "note",
    ),
    (
        "request: topic not offered",
        "POST",
        "/requests",
        "",
        {"topic": "astrology"},
        422,
        "validation_failed",
        "topic",
    ),
    (
        "request: a slot for talk-now",
        "POST",
        "/requests",
        "",
        {"urgency": "now"},
        422,
        "validation_failed",
        "slot",
    ),
    (
        "request: unknown identity field",
        "POST",
        "/requests",
        "",
        {"requester": {"platform": "slack", "subject": "T1:U9", "email": "a@b.c"}},
        422,
        "validation_failed",
        "requester.email",
    ),
    (
        "request: unknown platform",
        "POST",
        "/requests",
        "",
        {"requester": {"platform": "myspace", "subject": "T1:U9"}},
        422,
        "validation_failed",
        "requester.platform",
    ),
    (
        "feedback: comment over 2000 characters",
        "POST",
        "/requests/{request_id}/feedback",
        "",
        {"comment": "x" * 2001},
        422,
        "validation_failed",
        "comment",
    ),
    (
        "feedback: rating 6",
        "POST",
        "/requests/{request_id}/feedback",
        "",
        {"rating": 6},
        422,
        "validation_failed",
        "rating",
    ),
    (
        "token: supporter token without a supporter",
        "POST",
        "/tokens",
        "",
        {"role": "supporter"},
        422,
        "validation_failed",
        "supporter_id",
    ),
    (
        "token: unknown role",
        "POST",
        "/tokens",
        "",
        {"role": "root"},
        422,
        "validation_failed",
        "role",
    ),
    ("slots: unknown program", "GET", "/slots", "program=nope", None, 404, "not_found", "program"),
    (
        "roster: unknown program",
        "GET",
        "/supporters",
        "program=nope",
        None,
        404,
        "not_found",
        "program",
    ),
    (
        "new supporter: unknown program",
        "POST",
        "/supporters",
        "program=nope",
        {},
        404,
        "not_found",
        "program",
    ),
    (
        "offers: unknown program",
        "GET",
        "/offers",
        "program=nope",
        None,
        404,
        "not_found",
        "program",
    ),
    (
        "request: unknown program",
        "POST",
        "/requests",
        "",
        {"program": "nope"},
        404,
        "not_found",
        "program",
    ),
    (
        "NUL in a query",
        "GET",
        "/slots",
        "program=ac%00me",
        None,
        422,
        "validation_failed",
        "program",
    ),
    ("NUL in a path", "GET", "/programs/{slug}", "", None, 422, "validation_failed", "slug"),
]


def test_domain_rules(scene):
    for label, method, path, query, change, status, code, field in DOMAIN:
        with scene.case(label):
            body = None if change is None else {**scene.base(method, path), **scene.fill(change)}
            ids = {"slug": "ac\x00me"} if label == "NUL in a path" else {}
            response = scene.call(method, path, query=query, body=body, **ids)
            expect(scene, response, status, code, field)
    scene.assert_no_failures()


def test_undocumented_methods_get_405_with_allow(scene):
    for path, item in scene.doc["paths"].items():
        documented = {m.upper() for m in item if m in ("get", "put", "post", "patch", "delete")}
        allowed = documented | {"OPTIONS"} | ({"HEAD"} if "GET" in documented else set())
        for method in {"GET", "PUT", "POST", "PATCH", "DELETE"} - documented:
            with scene.case(f"{method} {path}"):
                response = scene.call(method, path.removeprefix(PREFIX), role="admin")
                expect(scene, response, 405, "method_not_allowed")
                assert set(response.headers["Allow"].split(", ")) == allowed, path
    scene.assert_no_failures()


END_OF_TIME, START_OF_TIME = "9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z"
EDGE_CASES = [  # far-off dates, nulls, host-only zone names: method, path, query, change, allowed
    pytest.param(
        "GET",
        "/slots",
        f"program=acme&from={END_OF_TIME}",
        None,
        (200, 422),
        id="slots from the end of time",
    ),
    pytest.param(
        "GET",
        "/slots",
        f"program=acme&from={START_OF_TIME}&to=0001-01-02T00:00:00Z",
        None,
        (200, 422),
        id="slots in the year 1",
    ),
    pytest.param(
        "POST",
        "/bookings",
        "",
        {"starts_at": "9999-12-31T23:59:00Z"},
        (409, 422),
        id="booking at the end of time",
    ),
    pytest.param(
        "POST",
        "/bookings",
        "",
        {"starts_at": START_OF_TIME},
        (409, 422),
        id="booking in the year 1",
    ),
    pytest.param(
        "POST",
        "/bookings/{booking_id}/reschedule",
        "",
        {"starts_at": "9999-12-31T23:59:00Z"},
        (409, 422),
        id="reschedule to the end of time",
    ),
    pytest.param(
        "PATCH",
        "/supporters/{supporter_id}",
        "",
        {"languages": None},
        (422,),
        id="supporter patch: languages null",
    ),
    pytest.param(
        "PATCH",
        "/supporters/{supporter_id}",
        "",
        {"alias": None},
        (422,),
        id="supporter patch: alias null",
    ),
    pytest.param(
        "POST",
        "/supporters",
        "",
        {"alias": "Mentor Owl", "time_zone": "localtime"},
        (422,),
        id="supporter: the host's localtime is no IANA zone",
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "change", "allowed"), EDGE_CASES)
def test_edge_cases_get_clear_answers(scene, method, path, query, change, allowed):
    body = None if change is None else {**scene.base(method, path), **change}
    response = scene.call(method, path, query=query, body=body)
    assert response.status_code in allowed, (response.status_code, response.json)
    if response.status_code >= 400:
        expect(scene, response, response.status_code)
    assert snapshot(scene.app) == scene.before, "stored something"


def test_a_far_training_expiry_does_not_break_slot_search(scene):
    response = scene.call(
        "POST",
        "/supporters/{supporter_id}/trainings",
        body={"name": "Peer basics", "completed_on": "2026-01-10", "expires_on": "9999-12-30"},
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "expires_on"
    response = scene.call(
        "POST",
        "/supporters/{supporter_id}/trainings",
        body={"name": "Peer basics", "completed_on": "2026-01-10", "expires_on": "2199-12-30"},
    )
    assert response.status_code == 201, response.json
    response = scene.call(
        "PATCH", "/programs/{slug}", body={"policy": {"required_trainings": ["Peer basics"]}}
    )
    assert response.status_code == 200, response.json
    assert scene.call("GET", "/slots", query="program=acme").status_code == 200
