"""Anonymity by construction: who asked and what they wrote never reach admins or coordinators."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Date, inspect, select, text

from core.models import Base, Feedback, RequesterIdentity
from core.runtime import runtime
from core.schemas.programs import ProgramIn
from core.services import programs
from tests.e2e.test_openapi import PREFIX, DocumentedClient, documented_client, operations
from tests.helpers import EVERY_WEEKDAY, auth, issue_token, make_world, system_ctx

SUBJECT = "T1:U123"
NOTES = ("my manager Dana keeps shouting at me", "since the layoffs I cannot sleep")


@dataclass
class Story:
    """Two requests from one Slack user: one talk-now taken by Fox, one booked with Owl."""

    app: Flask
    client: DocumentedClient
    doc: dict[str, Any]
    admin: str
    service: str
    coordinator: str
    fox: dict[str, Any]
    owl: dict[str, Any]
    fox_token: str
    owl_token: str
    now: dict[str, Any]
    booked: dict[str, Any]
    offer_id: str

    def get(self, path: str, token: str | None) -> Any:
        return self.client.get(PREFIX + path, headers=auth(token) if token else {})

    def secrets(self) -> list[str]:
        """What identifies a request or its requester: none of it may reach staff."""
        found = ["U123", SUBJECT, *NOTES]
        for request in (self.now, self.booked):
            found += [request["token"], request["id"], request["alias"]]
        return found


@pytest.fixture
def story(app: Flask) -> Story:
    client = documented_client(app)
    world = make_world(app, client)
    fox = world.add_supporter("Mentor Fox", weekly=EVERY_WEEKDAY)
    owl = world.add_supporter("Mentor Owl", weekly=EVERY_WEEKDAY, topics=["general"])
    service = auth(world.service)
    identity = {"platform": "slack", "subject": SUBJECT}
    now = client.post(
        f"{PREFIX}/requests",
        headers=service,
        json={
            "program": "acme",
            "topic": "stress",
            "urgency": "now",
            "mode": "text",
            "language": "en",
            "note": NOTES[0],
            "requester": identity,
            "channel": "slack",
        },
    ).json
    fox_token = world.supporter_token("Mentor Fox")
    [offer] = client.get(f"{PREFIX}/offers", headers=auth(fox_token)).json
    accepted = client.post(f"{PREFIX}/offers/{offer['id']}/accept", headers=auth(fox_token))
    assert accepted.status_code == 200, accepted.json
    slot = client.get(f"{PREFIX}/slots?program=acme&supporter={owl['id']}").json["slots"][0]
    booked = client.post(
        f"{PREFIX}/requests",
        headers=service,
        json={
            "program": "acme",
            "topic": "general",
            "urgency": "scheduled",
            "mode": "video",
            "language": "en",
            "note": NOTES[1],
            "requester": identity,
            "channel": "slack",
            "slot": {"supporter_id": owl["id"], "starts_at": slot["starts_at"]},
        },
    ).json
    assert booked["booking"]["status"] == "confirmed", booked
    return Story(
        app,
        client,
        client.get(f"{PREFIX}/openapi.json").json,
        world.admin,
        world.service,
        issue_token(app, "coordinator", "acme"),
        fox,
        owl,
        fox_token,
        world.supporter_token("Mentor Owl"),
        now,
        booked,
        offer["id"],
    )


def get_paths(story: Story, ids: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """Every documented GET, with each path id filled by every real id of its kind."""
    urls: list[tuple[str, list[str]]] = []
    for (method, template), op in operations(story.doc).items():
        if method != "GET":
            continue
        names = [p["name"] for p in op["parameters"] if p["in"] == "path"]
        assert len(names) <= 1 and all(n in ids for n in names), (template, names)
        query = "?program=acme" if any(p["name"] == "program" for p in op["parameters"]) else ""
        values = ids[names[0]] if names else [""]
        for value in values:
            path = template.removeprefix(PREFIX)
            urls.append(
                (
                    path.replace("{" + names[0] + "}", value) + query if names else path + query,
                    op["x-roles"],
                )
            )
    return urls


def test_staff_never_see_who_asked_or_what_they_wrote(story):
    ids = {
        "slug": ["acme"],
        "supporter_id": [story.fox["id"], story.owl["id"]],
        "request_id": [story.now["id"], story.booked["id"]],
        "booking_id": [story.booked["booking"]["id"]],
        "offer_id": [story.offer_id],
    }
    answered = 0
    for role, token in (("admin", story.admin), ("coordinator", story.coordinator)):
        for path, roles in get_paths(story, ids):
            response = story.get(path, token)
            body = response.get_data(as_text=True)
            for secret in story.secrets():
                assert secret not in body, f"{role} GET {path} shows {secret!r}"
            if path.startswith("/requests/"):
                assert response.status_code in (401, 403, 404), (role, path)
            elif role in roles:
                assert response.status_code == 200, (role, path, response.json)
                answered += 1
            else:
                assert response.status_code == 403, (role, path)
    assert answered >= 20  # the sweep really read the program's records


def test_the_identity_is_stored_encrypted_and_nowhere_else(story):
    engine = runtime(story.app).engine
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT ciphertext, lookup_hash, platform FROM requester_identities")
        ).all()
        assert len(rows) == 2
        for ciphertext, lookup_hash, platform in rows:
            assert b"U123" not in bytes(ciphertext) and "U123" not in lookup_hash
            assert platform == "slack"
            assert runtime(story.app).cipher.decrypt(bytes(ciphertext)) == SUBJECT
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                assert "U123" not in repr(tuple(row)), f"the subject is readable in {table.name}"
    columns = {c.name for c in RequesterIdentity.__table__.columns}
    assert "subject" not in columns


def test_another_programs_staff_get_not_found(story):
    ctx = system_ctx(story.app)
    with ctx.session:
        programs.create_program(
            ctx,
            ProgramIn.model_validate(
                {"slug": "globex", "name": "Globex", "kind": "school", "time_zone": "UTC"}
            ),
        )
    tokens = {
        "admin": issue_token(story.app, "admin", "globex"),
        "coordinator": issue_token(story.app, "coordinator", "globex"),
    }
    ids = {
        "slug": ["acme"],
        "supporter_id": [story.fox["id"]],
        "request_id": [story.now["id"]],
        "booking_id": [story.booked["booking"]["id"]],
    }
    for role, token in tokens.items():
        for path, roles in get_paths(story, ids):
            response = story.get(path, token)
            if path == "/programs":
                assert response.status_code == 200 and "acme" not in response.get_data(
                    as_text=True
                ), role
            elif role in roles:
                assert response.status_code == 404, (role, path, response.status_code)
            else:
                assert response.status_code == 403, (role, path, response.status_code)
    admin = auth(tokens["admin"])
    for method, path, body in (
        ("PATCH", "/programs/acme", {"name": "Mine now"}),
        ("PATCH", f"/supporters/{story.fox['id']}", {"alias": "Renamed"}),
        ("POST", f"/supporters/{story.fox['id']}/pause", None),
        (
            "POST",
            "/supporters?program=acme",
            {"alias": "Spy", "time_zone": "UTC", "languages": ["en"], "topics": ["stress"]},
        ),
    ):
        response = story.client.open(PREFIX + path, method=method, json=body, headers=admin)
        assert response.status_code == 404, (method, path, response.status_code)
    fox = story.get(f"/supporters/{story.fox['id']}", story.admin).json
    assert (fox["alias"], fox["status"]) == ("Mentor Fox", "active")


def test_only_the_assigned_supporter_reads_the_note(story):
    now, booked = story.now["id"], story.booked["id"]
    mine = story.get(f"/requests/{now}/assigned", story.fox_token)
    assert mine.status_code == 200 and mine.json["note"] == NOTES[0]
    assert story.get(f"/requests/{booked}/assigned", story.owl_token).json["note"] == NOTES[1]
    for path, token in (
        (f"/requests/{now}/assigned", story.owl_token),
        (f"/requests/{booked}/assigned", story.fox_token),
        (f"/requests/{now}", story.fox_token),
    ):
        response = story.get(path, token)
        assert response.status_code in (403, 404), path
        assert NOTES[0] not in response.get_data(as_text=True)
    for token in (story.fox_token, story.owl_token):
        offers = story.get("/offers", token).get_data(as_text=True)
        assert not any(note in offers for note in NOTES)
    closed = story.client.post(
        f"{PREFIX}/requests/{now}/close",
        json={"outcome": "completed"},
        headers=auth(story.fox_token),
    )
    assert closed.status_code == 200 and closed.json["note"] is None  # gone once it is over


def test_a_requester_token_reads_only_its_own_request(story):
    own, other = story.now, story.booked
    assert story.get(f"/requests/{own['id']}", own["token"]).status_code == 200
    assert story.get(f"/requests/{other['id']}", own["token"]).status_code == 404
    assert story.get(f"/requests/{own['id']}", other["token"]).status_code == 404
    assert story.get(f"/bookings/{other['booking']['id']}", own["token"]).status_code == 404
    for path in (f"/requests/{other['id']}/cancel", f"/bookings/{other['booking']['id']}/cancel"):
        response = story.client.post(PREFIX + path, json={}, headers=auth(own["token"]))
        assert response.status_code == 404, path
    assert story.get(f"/requests/{other['id']}", other["token"]).json["status"] == "scheduled"


def test_feedback_cannot_be_linked_to_anyone(story):
    request = story.now
    story.client.post(
        f"{PREFIX}/requests/{request['id']}/close", json={}, headers=auth(story.fox_token)
    )
    given = story.client.post(
        f"{PREFIX}/requests/{request['id']}/feedback",
        json={"rating": 4, "comment": "felt heard"},
        headers=auth(request["token"]),
    )
    assert given.status_code == 204, given.json
    table = Feedback.__table__
    assert {c.name for c in table.columns} == {
        "id",
        "program_id",
        "rating",
        "comment",
        "submitted_on",
    }
    assert isinstance(table.c.submitted_on.type, Date)  # a day, not a linkable instant
    assert not [
        fk
        for fk in inspect(runtime(story.app).engine).get_foreign_keys("feedback")
        if fk["referred_table"] != "programs"
    ]
    with runtime(story.app).engine.connect() as connection:
        [row] = connection.execute(select(table)).all()
    linkable = {request["id"], story.fox["id"], request["token"], SUBJECT, story.offer_id}
    values = " ".join(str(v) for v in row)
    assert not [v for v in linkable if v in values or v.replace("-", "") in values]
    assert uuid.UUID(str(row.id)) != uuid.UUID(request["id"])
