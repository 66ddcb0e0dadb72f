"""The OpenAPI document is valid, complete and true: every response matches what it promises."""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from core.notify import deliveries
from core.runtime import runtime
from tests.helpers import EVERY_WEEKDAY, auth, issue_token, make_world

PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "patch", "delete")


class DocumentedClient(FlaskClient):
    """A test client that checks every API response against the app's own OpenAPI document."""

    seen: list[tuple[str, str, int]]

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith(PREFIX) and request.path not in (
            f"{PREFIX}/openapi.json",
            f"{PREFIX}/docs",
        ):
            found = check_response(
                document(self.application), request.method, request.path, response
            )
            if found is not None:
                self.seen.append((request.method, found, response.status_code))
        return response


def documented_client(app: Flask) -> DocumentedClient:
    client = DocumentedClient(app, app.response_class, use_cookies=False)
    client.seen = []
    return client


_DOCUMENTS: dict[str, dict[str, Any]] = {}  # by text: schema validators outlive one app


def document(app: Flask) -> dict[str, Any]:
    key = "tests.openapi_document"
    if key not in app.extensions:
        response = app.test_client().get(f"{PREFIX}/openapi.json")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        app.extensions[key] = _DOCUMENTS.setdefault(text, response.json)
    return app.extensions[key]  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def template_of(doc: dict[str, Any], path: str) -> str | None:
    for template in doc["paths"]:
        pattern = re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    return None


def check_response(
    doc: dict[str, Any], method: str, path: str, response: TestResponse
) -> str | None:
    """Fail unless the status is documented and the body validates; returns the path template."""
    assert response.status_code < 500, (method, path, response.status_code, response.json)
    template = template_of(doc, path)
    op = doc["paths"].get(template, {}).get(method.lower()) if template else None
    if op is None:  # no such route or method: still our one error shape
        assert response.status_code in (404, 405), (method, path, response.status_code)
        validate(doc, {"$ref": "#/components/schemas/Error"}, response.json)
        return None
    documented = op["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {template} answered {response.status_code}, which is not documented: "
        f"{response.get_data(as_text=True)[:300]}"
    )
    content = documented.get("content", {}).get("application/json")
    if content is None:
        assert response.get_data() == b"", (method, template, response.status_code)
    else:
        assert response.mimetype == "application/json", (method, template, response.mimetype)
        validate(doc, content["schema"], response.json)
    return template


def validate(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema of the document, with every described object closed."""
    validators = doc.setdefault("tests.validators", {})
    key = repr(schema)
    if key not in validators:
        components = copy.deepcopy(doc["components"])
        _close(components)
        validators[key] = Draft202012Validator(
            {**schema, "components": components}, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    errors = sorted(validators[key].iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def _close(node: Any) -> None:
    """An undocumented field in a response fails too: objects get additionalProperties false."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


@cache
def _spec_validator() -> Any:
    try:
        from openapi_spec_validator import validate as spec_validate
    except ImportError:  # pragma: no cover - the structural checks below still run
        return None
    return spec_validate


@pytest.fixture
def client(app: Flask) -> DocumentedClient:
    return documented_client(app)


def test_document_is_valid_openapi_3_1(client):
    doc = client.get(f"{PREFIX}/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    spec_validate = _spec_validator()
    if spec_validate is not None:
        spec_validate(doc)
    for ref in set(_refs(doc)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], f"{ref} does not resolve"
    ids = [op["operationId"] for op in operations(doc).values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for (method, path), op in operations(doc).items():
        assert op["responses"], (method, path)
        assert any(code.startswith("2") for code in op["responses"]), (method, path)
        declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([a-z_]+)\}", path)), (method, path)
        for code, response in op["responses"].items():
            if not code.startswith("2"):
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (method, path, code)
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= set(op["responses"]), (method, path)
        if op["x-roles"] != ["anonymous"]:
            assert "401" in op["responses"], (method, path)


def test_docs_page_lists_every_operation(client):
    doc = client.get(f"{PREFIX}/openapi.json").json
    page = client.get(f"{PREFIX}/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for method, path in operations(doc):
        assert f'aria-label="{method} {path}"' in html, (method, path)
    assert f'href="{PREFIX}/openapi.json"' in html


def test_error_answers_carry_their_http_headers(client):
    missing = client.get(f"{PREFIX}/tokens")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.delete(f"{PREFIX}/programs")
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
    }
    assert wrong.json["error"]["code"] == "method_not_allowed"


def test_every_operation_answers_as_documented(app, client):
    """Call each operation once, successfully; the document must describe what comes back."""
    doc = client.get(f"{PREFIX}/openapi.json").json
    _tour(app, client)
    succeeded = {(m, p) for m, p, status in client.seen if 200 <= status < 300}
    assert succeeded == set(operations(doc)), sorted(set(operations(doc)) ^ succeeded)
    for method, path, status in client.seen:
        op = doc["paths"][path][method.lower()]
        if 200 <= status < 300:
            assert [c for c in op["responses"] if c.startswith("2")] == [str(status)], (
                method,
                path,
            )


def _tour(app: Flask, client: DocumentedClient) -> None:
    """One successful call of every operation, in an order the domain allows."""
    world = make_world(app, client)
    root = auth(issue_token(app, "admin", None))
    admin, service = auth(world.admin), auth(world.service)
    coordinator = auth(issue_token(app, "coordinator", "acme"))
    api = PREFIX

    def ok(response: TestResponse, status: int = 200) -> Any:
        assert response.status_code == status, (response.request.path, response.json)
        return response.json

    ok(
        client.post(
            f"{api}/programs",
            json={
                "slug": "globex",
                "name": "Globex",
                "kind": "school",
                "time_zone": "America/New_York",
            },
            headers=root,
        ),
        201,
    )
    ok(client.get(f"{api}/programs", headers=admin))
    ok(client.get(f"{api}/programs/acme", headers=admin))
    ok(client.patch(f"{api}/programs/acme", json={"name": "Acme Corp."}, headers=admin))
    ok(client.get(f"{api}/programs/acme/intake?locale=en-GB"))
    fox = world.add_supporter("Mentor Fox", weekly=EVERY_WEEKDAY)
    owl = world.add_supporter("Mentor Owl", weekly=EVERY_WEEKDAY)
    ok(client.get(f"{api}/supporters?status=active", headers=admin))
    ok(client.get(f"{api}/supporters/{fox['id']}", headers=admin))
    ok(client.patch(f"{api}/supporters/{fox['id']}", json={"weekly_cap": 6}, headers=admin))
    training = ok(
        client.post(
            f"{api}/supporters/{fox['id']}/trainings",
            json={"name": "Peer basics", "completed_on": "2026-01-10", "expires_on": "2029-01-10"},
            headers=coordinator,
        ),
        201,
    )
    ok(client.get(f"{api}/supporters/{fox['id']}/trainings", headers=coordinator))
    ok(
        client.delete(
            f"{api}/supporters/{fox['id']}/trainings/{training['id']}", headers=coordinator
        ),
        204,
    )
    ok(client.get(f"{api}/supporters/{fox['id']}/availability", headers=coordinator))
    override = ok(
        client.post(
            f"{api}/supporters/{owl['id']}/overrides",
            json={"date": "2026-03-20", "available": False},
            headers=coordinator,
        ),
        201,
    )
    ok(client.get(f"{api}/supporters/{owl['id']}/overrides?since=2026-03-01", headers=admin))
    ok(
        client.delete(
            f"{api}/supporters/{owl['id']}/overrides/{override['id']}", headers=coordinator
        ),
        204,
    )
    ok(client.post(f"{api}/supporters/{owl['id']}/pause", headers=coordinator))
    ok(client.post(f"{api}/supporters/{owl['id']}/resume", headers=coordinator))
    token = ok(
        client.post(
            f"{api}/tokens",
            json={"role": "supporter", "name": "fox bot", "supporter_id": fox["id"]},
            headers=admin,
        ),
        201,
    )
    ok(client.get(f"{api}/tokens", headers=admin))
    fox_token = auth(token["token"])

    now = ok(
        client.post(
            f"{api}/requests",
            json={
                "program": "acme",
                "topic": "stress",
                "urgency": "now",
                "mode": "text",
                "language": "en",
                "note": "a hard week",
            },
        ),
        201,
    )
    offers = ok(client.get(f"{api}/offers?status=pending", headers=fox_token))
    [mine] = [o for o in offers if o["request_id"] == now["id"]]
    owl_offers = ok(client.get(f"{api}/offers?program=acme&supporter={owl['id']}", headers=service))
    ok(client.post(f"{api}/offers/{owl_offers[0]['id']}/decline", headers=service))
    ok(client.post(f"{api}/offers/{mine['id']}/accept", headers=fox_token))
    ok(client.get(f"{api}/requests/{now['id']}/assigned", headers=fox_token))
    ok(client.post(f"{api}/requests/{now['id']}/start-chat", headers=fox_token))
    ok(
        client.post(
            f"{api}/requests/{now['id']}/close", json={"outcome": "completed"}, headers=fox_token
        )
    )
    ok(
        client.post(
            f"{api}/requests/{now['id']}/feedback", json={"rating": 5}, headers=auth(now["token"])
        ),
        204,
    )
    ok(client.delete(f"{api}/requests/{now['id']}/token", headers=auth(now["token"])), 204)

    found = ok(client.get(f"{api}/slots?program=acme&tz=America/New_York&supporter={owl['id']}"))
    first, second = found["slots"][0], found["slots"][1]
    later = ok(
        client.post(
            f"{api}/requests",
            json={
                "program": "acme",
                "topic": "general",
                "urgency": "scheduled",
                "mode": "video",
                "language": "en",
            },
            headers=service,
        ),
        201,
    )
    booking = ok(
        client.post(
            f"{api}/bookings",
            json={
                "request_id": later["id"],
                "supporter_id": owl["id"],
                "starts_at": first["starts_at"],
            },
            headers=auth(later["token"]),
        ),
        201,
    )
    ok(client.get(f"{api}/requests/{later['id']}?locale=es", headers=auth(later["token"])))
    ok(client.get(f"{api}/bookings?status=confirmed", headers=coordinator))
    ok(client.get(f"{api}/bookings/{booking['id']}", headers=coordinator))
    ok(
        client.post(
            f"{api}/bookings/{booking['id']}/reschedule",
            json={"starts_at": second["starts_at"]},
            headers=service,
        )
    )
    ok(
        client.post(
            f"{api}/bookings/{booking['id']}/cancel",
            json={"reason": "clash"},
            headers=auth(later["token"]),
        )
    )
    withdrawn = ok(
        client.post(
            f"{api}/requests",
            json={
                "program": "acme",
                "topic": "grief",
                "urgency": "scheduled",
                "mode": "text",
                "language": "es",
            },
        ),
        201,
    )
    ok(
        client.post(
            f"{api}/requests/{withdrawn['id']}/cancel", json={}, headers=auth(withdrawn["token"])
        )
    )
    ok(
        client.put(
            f"{api}/supporters/{fox['id']}/availability",
            json={"weekly": [{"weekday": "sat", "start": "10:00", "end": "12:00"}]},
            headers=fox_token,
        )
    )
    ok(client.post(f"{api}/supporters/{owl['id']}/offboard", headers=admin))
    ok(client.post(f"{api}/tokens/{token['id']}/revoke", headers=admin), 204)
    ok(client.get(f"{api}/audit?limit=500&from=2026-03-01T00:00:00Z", headers=coordinator))
    current = runtime(app)
    for delivery_id in deliveries.due(current):  # no channel is installed: each goes dead
        deliveries.attempt(current, delivery_id)
    ok(client.get(f"{api}/deliveries/summary?program=acme", headers=coordinator))
    dead = ok(client.get(f"{api}/deliveries/dead?program=acme", headers=coordinator))
    ok(client.post(f"{api}/deliveries/{dead[0]['id']}/retry", headers=admin), 204)
