"""Roster life cycle and crisis signposting over HTTP."""

from __future__ import annotations

import logging

from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body

THURSDAY = "from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z"


def test_offboarding_keeps_history_removes_contacts_and_cancels_future_sessions(app, client):
    world = make_world(app, client)
    ash = world.add_supporter(
        "Ash", weekly=EVERY_WEEKDAY, contacts=[{"platform": "email", "address": "ash@acme.example"}]
    )
    slot = client.get(f"/api/v1/slots?program=acme&{THURSDAY}").json["slots"][0]
    made = client.post(
        "/api/v1/requests",
        json=request_body(
            urgency="scheduled", slot={"supporter_id": ash["id"], "starts_at": slot["starts_at"]}
        ),
    ).json
    assert made["status"] == "scheduled"
    gone = client.post(f"/api/v1/supporters/{ash['id']}/offboard", headers=auth(world.admin))
    assert gone.status_code == 200, gone.json
    assert gone.json["status"] == "offboarded" and gone.json["contacts"] == []
    assert gone.json["alias"] == "Ash", "the record and its history stay"
    view = client.get(f"/api/v1/requests/{made['id']}", headers=auth(made["token"])).json
    assert (view["status"], view["outcome"]) == ("closed", "cancelled")
    assert view["booking"]["status"] == "cancelled"
    again = client.post(f"/api/v1/supporters/{ash['id']}/resume", headers=auth(world.admin))
    assert again.status_code == 409
    audit = client.get("/api/v1/audit?action=supporter.offboarded", headers=auth(world.admin)).json
    assert [e["target_id"] for e in audit] == [ash["id"]]


def test_only_admins_offboard_and_supporters_pause_only_themselves(app, client):
    world = make_world(app, client)
    ash = world.add_supporter("Ash")
    birch = world.add_supporter("Birch")
    coordinator = client.post(
        "/api/v1/tokens?program=acme",
        headers=auth(world.admin),
        json={"role": "coordinator", "name": "c"},
    ).json["token"]
    assert (
        client.post(
            f"/api/v1/supporters/{ash['id']}/offboard", headers=auth(coordinator)
        ).status_code
        == 403
    )
    token = world.supporter_token("Ash")
    assert client.post(
        f"/api/v1/supporters/{birch['id']}/pause", headers=auth(token)
    ).status_code in (403, 404)
    assert (
        client.post(f"/api/v1/supporters/{ash['id']}/pause", headers=auth(token)).json["status"]
        == "paused"
    )


def test_crisis_words_show_resources_mark_urgent_and_log_only_the_fact(app, client, caplog):
    world = make_world(app, client, locale="en-GB")
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    caplog.set_level(logging.INFO)
    made = client.post(
        "/api/v1/requests",
        json=request_body(note="Honestly some nights I want to die"),
    ).json
    assert made["is_urgent"] is True and made["crisis"]["detected"] is True
    assert made["crisis"]["resources"][0]["name"] == "Samaritans", "the requester's locale first"
    assert made["status"] == "offered", "never blocked"
    assert "crisis resources shown" in caplog.text
    assert "want to die" not in caplog.text and "nights" not in caplog.text
    calm = client.post(
        "/api/v1/requests",
        json=request_body(note="Deadlines are piling up"),
    ).json
    assert calm["is_urgent"] is False and calm["crisis"]["detected"] is False
    assert calm["crisis"]["resources"], "resources are shown to everyone, always"


def test_program_phrases_and_requester_locale_pick_resources(app, client):
    world = make_world(
        app,
        client,
        crisis_phrases={"en": ["done with everything"]},
        crisis_resources=[
            {"locale": "en-US", "name": "988 Lifeline", "contact": "988"},
            {"locale": "es", "name": "Línea 024", "contact": "024"},
        ],
    )
    assert world.slug == "acme"
    made = client.post(
        "/api/v1/requests",
        json={
            "program": "acme",
            "topic": "stress",
            "urgency": "scheduled",
            "mode": "text",
            "language": "es",
            "locale": "es-ES",
            "note": "I am done with everything",
        },
    ).json
    assert made["crisis"]["detected"] is True
    assert [r["name"] for r in made["crisis"]["resources"]] == ["Línea 024"]
    intake = client.get("/api/v1/programs/acme/intake?locale=en-US").json
    assert [r["name"] for r in intake["crisis_resources"]] == ["988 Lifeline"]
    assert "not a crisis" in intake["notice"]


def test_a_refused_request_with_crisis_words_still_carries_the_resources(app, client):
    world = make_world(app, client)
    ash = world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    slot = client.get(f"/api/v1/slots?program=acme&{THURSDAY}").json["slots"][0]
    body = {
        "program": "acme",
        "topic": "stress",
        "urgency": "scheduled",
        "mode": "text",
        "language": "en",
        "slot": {"supporter_id": ash["id"], "starts_at": slot["starts_at"]},
    }
    assert client.post("/api/v1/requests", json=body).status_code == 201
    refused = client.post("/api/v1/requests", json={**body, "note": "I want to end my life"})
    assert refused.status_code == 409
    crisis = refused.json["error"]["crisis"]
    assert crisis["detected"] is True and crisis["resources"]
    plain = client.post("/api/v1/requests", json={**body, "note": "just stressed"})
    assert plain.status_code == 409 and "crisis" not in plain.json["error"]


def test_invalid_choices_with_crisis_words_still_carry_the_resources(app, client):
    make_world(app, client)
    refused = client.post(
        "/api/v1/requests",
        json={
            "program": "acme",
            "topic": "astrology",
            "urgency": "now",
            "mode": "text",
            "language": "en",
            "note": "I keep thinking about suicide",
        },
    )
    assert refused.status_code == 422 and refused.json["error"]["field"] == "topic"
    assert refused.json["error"]["crisis"]["resources"]


def test_a_malformed_locale_is_refused_by_name(app, client):
    make_world(app, client)
    response = client.get("/api/v1/programs/acme/intake?locale=" + "x" * 500)
    assert response.status_code == 422 and response.json["error"]["field"] == "locale"
