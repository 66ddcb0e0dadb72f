"""What fuzzing the API from its document found, each pinned so it cannot come back."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from tests.helpers import EVERY_WEEKDAY, World, auth, issue_token, make_world, request_body

PREFIX = "/api/v1"


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    world = make_world(app, client)
    world.add_supporter("Mentor Fox", weekly=EVERY_WEEKDAY)
    return world


def _fox(world: World) -> str:
    return str(world.supporters["Mentor Fox"]["id"])


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field, response.json
    assert "ISO 8601" in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/bookings?from=1700000000", "from"),
        ("/bookings?to=5.5e16", "to"),
        ("/audit?from=1772611200", "from"),
        ("/slots?program=acme&from=1772611200", "from"),
        ("/supporters/{fox}/overrides?since=86400", "since"),
    ],
)
def test_a_number_is_no_date_or_time_in_a_query(
    app: Flask, client: FlaskClient, world: World, path: str, field: str
) -> None:
    """Pydantic read '1700000000' as Unix time; the document promises ISO 8601 text."""
    coordinator = auth(issue_token(app, "coordinator", "acme"))
    response = client.get(PREFIX + path.format(fox=_fox(world)), headers=coordinator)
    _refused(response, field)


def test_a_number_is_no_date_when_pausing(client: FlaskClient, world: World) -> None:
    response = client.post(
        f"{PREFIX}/supporters/{_fox(world)}/pause?until=1800000000", headers=auth(world.admin)
    )
    _refused(response, "until")
    fox = client.get(f"{PREFIX}/supporters/{_fox(world)}", headers=auth(world.admin)).json
    assert fox["status"] == "active"


@pytest.mark.parametrize(
    ("what", "body", "field"),
    [
        ("trainings", {"name": "Peer basics", "completed_on": "1767225600"}, "completed_on"),
        (
            "trainings",
            {"name": "Peer basics", "completed_on": "2026-01-10", "expires_on": "2029"},
            "expires_on",
        ),
        ("overrides", {"date": "86400", "available": False}, "date"),
    ],
)
def test_a_number_is_no_date_in_a_body_and_nothing_is_stored(
    client: FlaskClient, world: World, what: str, body: dict[str, Any], field: str
) -> None:
    url, admin = f"{PREFIX}/supporters/{_fox(world)}/{what}", auth(world.admin)
    _refused(client.post(url, json=body, headers=admin), field)
    assert client.get(url, headers=admin).json == []


def test_a_number_is_no_time_to_book(client: FlaskClient, world: World) -> None:
    asked = client.post(f"{PREFIX}/requests", json=request_body(urgency="scheduled")).json
    starts_at = "1773046800"  # Monday 2026-03-09 09:00 UTC, a free slot, as Unix time
    response = client.post(
        f"{PREFIX}/bookings",
        json={"request_id": asked["id"], "supporter_id": _fox(world), "starts_at": starts_at},
        headers=auth(asked["token"]),
    )
    _refused(response, "starts_at")
    mine = client.get(f"{PREFIX}/requests/{asked['id']}", headers=auth(asked["token"])).json
    assert mine["booking"] is None and mine["status"] == "open"


def _document(client: FlaskClient) -> dict[str, Any]:
    doc: dict[str, Any] = client.get(f"{PREFIX}/openapi.json").get_json()
    return doc


def _takes_null(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    return bool(validator.is_valid(None))


def _properties(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[1]
    return doc["components"]["schemas"][name]["properties"]  # type: ignore[no-any-return]


def _null_patches(doc: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(field, a patch setting it to null, whether the document says null is taken)."""
    body = doc["paths"][path]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    found: list[tuple[str, dict[str, Any], bool]] = []
    for name, prop in _properties(doc, body).items():
        found.append((name, {name: None}, _takes_null(doc, prop)))
        if name == "policy":
            nested = {k: v for k, v in prop.items() if k != "anyOf"} | prop["anyOf"][0]
            for inner, inner_prop in _properties(doc, nested).items():
                patch = {"policy": {inner: None}}
                found.append((f"policy.{inner}", patch, _takes_null(doc, inner_prop)))
    return found


def test_patches_take_null_exactly_where_the_document_says(
    client: FlaskClient, world: World
) -> None:
    """Null clears a value where the document allows it; elsewhere a 422 names the field."""
    doc, admin = _document(client), auth(world.admin)
    urls = {
        f"{PREFIX}/programs/{{slug}}": f"{PREFIX}/programs/acme",
        f"{PREFIX}/supporters/{{supporter_id}}": f"{PREFIX}/supporters/{_fox(world)}",
    }
    taken = []
    for path, url in urls.items():
        for field, patch, documented in _null_patches(doc, path):
            before = client.get(url, headers=admin).json
            response = client.patch(url, json=patch, headers=admin)
            if documented:
                taken.append(field)
                assert response.status_code == 200, (field, response.json)
            else:
                assert response.status_code == 422, (field, response.json)
                assert response.json["error"]["field"] == field
                assert client.get(url, headers=admin).json == before
    assert sorted(taken) == [
        "concurrent_cap",
        "contacts",
        "external_ref",
        "policy",
        "policy.notify_email",
        "weekly_cap",
    ]


def test_no_query_parameter_is_documented_as_null(client: FlaskClient) -> None:
    """A query string cannot say null; leaving the parameter out is how to say 'none'."""
    doc = _document(client)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for param in op["parameters"]:
                assert not _takes_null(doc, param["schema"]), (method, path, param)


def test_a_whole_number_may_be_written_with_a_fraction_of_zero(
    client: FlaskClient, world: World
) -> None:
    """JSON Schema counts 4.0 as an integer, so the API takes it; 4.5 and "4" stay refused."""
    url, admin = f"{PREFIX}/supporters/{_fox(world)}", auth(world.admin)
    taken = client.patch(url, json={"weekly_cap": 4.0}, headers=admin)
    assert taken.status_code == 200 and taken.json["weekly_cap"] == 4
    policy = {"policy": {"weekly_cap": 3.0, "reminder_minutes": [60.0]}}
    program = client.patch(f"{PREFIX}/programs/acme", json=policy, headers=admin)
    assert program.status_code == 200, program.json
    assert program.json["policy"]["weekly_cap"] == 3
    assert program.json["policy"]["reminder_minutes"] == [60]
    for wrong in (4.5, "4", True):
        refused = client.patch(url, json={"weekly_cap": wrong}, headers=admin)
        assert refused.status_code == 422 and refused.json["error"]["field"] == "weekly_cap"
    assert client.get(url, headers=admin).json["weekly_cap"] == 4


@pytest.mark.parametrize("start", ["09:00\n", "\u0660\u0669:\u0660\u0660", "9:00"])
def test_clock_times_are_plain_hh_mm(client: FlaskClient, world: World, start: str) -> None:
    """Python's $ let '09:00\\n' by, and its \\d took Arabic-Indic digits; the document did not."""
    url, admin = f"{PREFIX}/supporters/{_fox(world)}/availability", auth(world.admin)
    before = client.get(url, headers=admin).json
    weekly = [{"weekday": "mon", "start": start, "end": "17:00"}]
    response = client.put(url, json={"weekly": weekly}, headers=admin)
    assert response.status_code == 422 and response.json["error"]["field"] == "weekly.0.start"
    assert client.get(url, headers=admin).json == before
    doc = _document(client)
    window = doc["components"]["schemas"]["WeeklyWindowIn"]["properties"]["start"]
    assert not Draft202012Validator(window).is_valid(start)


def _strings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if node.get("type") == "string" and "format" not in node else []
    return own + [s for value in node.values() for s in _strings(value)]


def test_the_document_says_no_text_sent_may_hold_nul(client: FlaskClient) -> None:
    """The API refuses NUL in all text (PostgreSQL cannot store it); the document says so."""
    doc = _document(client)
    sent: list[Any] = []
    for item in doc["paths"].values():
        for op in item.values():
            sent += [param["schema"] for param in op["parameters"]]
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                sent.append(doc["components"]["schemas"][ref.rsplit("/", 1)[1]])
    for name in ("Contact", "CrisisResource", "Policy", "PolicyPatch", "RequesterIdentityIn"):
        sent.append(doc["components"]["schemas"][name])
    for schema in _strings(sent):
        assert not Draft202012Validator(schema).is_valid("a\x00b"), schema


def test_crisis_phrase_keys_are_documented_as_locales(client: FlaskClient, world: World) -> None:
    """Pydantic's patternProperties let any other key by in the document; the API refuses it."""
    doc, body = _document(client), {"crisis_phrases": {"Hilfe!": ["I need help"]}}
    schema = {"$ref": "#/components/schemas/ProgramPatch", "components": doc["components"]}
    assert not Draft202012Validator(schema).is_valid(body)
    response = client.patch(f"{PREFIX}/programs/acme", json=body, headers=auth(world.admin))
    assert response.status_code == 422
    assert response.json["error"]["field"].startswith("crisis_phrases")
