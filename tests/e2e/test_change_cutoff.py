"""The program's change cut-off over HTTP: requesters cancel or move a booking only until
`change_cutoff_minutes` before it; supporters, coordinators and integrations at any time."""

from __future__ import annotations

import pytest

from tests.helpers import EVERY_WEEKDAY, auth, issue_token, make_world

CLOSED = (
    "changes close 2 hours before the session; contact the program's coordinators "
    "if you cannot come"
)


@pytest.fixture
def world(app, client):
    world = make_world(app, client)
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    return world


def booked(world, at: str = "2026-03-04T13:00:00Z") -> dict:
    """A scheduled request with its slot booked at once; the answer holds the requester token."""
    body = {
        "program": "acme",
        "topic": "stress",
        "urgency": "scheduled",
        "mode": "video",
        "language": "en",
        "slot": {"supporter_id": world.supporters["Ash"]["id"], "starts_at": at},
    }
    made = world.client.post("/api/v1/requests", json=body)
    assert made.status_code == 201, made.json
    return dict(made.json)


def test_the_policy_has_a_two_hour_default_and_admins_change_it(world):
    program = world.client.get("/api/v1/programs/acme", headers=auth(world.admin)).json
    assert program["policy"]["change_cutoff_minutes"] == 120
    patched = world.client.patch(
        "/api/v1/programs/acme",
        json={"policy": {"change_cutoff_minutes": 30}},
        headers=auth(world.admin),
    )
    assert patched.status_code == 200 and patched.json["policy"]["change_cutoff_minutes"] == 30


@pytest.mark.parametrize("value", [-1, 10081, "60", None, 1.5])
def test_a_bad_cutoff_is_refused_naming_its_field(world, value):
    refused = world.client.patch(
        "/api/v1/programs/acme",
        json={"policy": {"change_cutoff_minutes": value}},
        headers=auth(world.admin),
    )
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["field"].startswith("policy.change_cutoff_minutes") or (
        value is None and refused.json["error"]["field"] == "change_cutoff_minutes"
    )
    program = world.client.get("/api/v1/programs/acme", headers=auth(world.admin)).json
    assert program["policy"]["change_cutoff_minutes"] == 120


def test_requesters_cancel_until_the_cutoff_and_not_after(world, clock):
    early, late = booked(world), booked(world, "2026-03-04T14:00:00Z")
    clock.advance(hours=1, minutes=59, seconds=59)  # 10:59:59, before 11:00 for the 13:00 one
    cancelled = world.client.post(
        f"/api/v1/requests/{early['id']}/cancel", json={}, headers=auth(early["token"])
    )
    assert cancelled.status_code == 200 and cancelled.json["outcome"] == "cancelled"

    clock.advance(hours=1, seconds=1)  # 12:00: the 14:00 session closed for changes
    booking_id = late["booking"]["id"]
    for path, body in (
        (f"/api/v1/requests/{late['id']}/cancel", {}),
        (f"/api/v1/bookings/{booking_id}/cancel", {}),
        (f"/api/v1/bookings/{booking_id}/reschedule", {"starts_at": "2026-03-05T13:00:00Z"}),
    ):
        refused = world.client.post(path, json=body, headers=auth(late["token"]))
        assert refused.status_code == 409, (path, refused.json)
        assert refused.json["error"]["code"] == "change_closed"
        assert refused.json["error"]["message"] == CLOSED
    shown = world.client.get(f"/api/v1/requests/{late['id']}", headers=auth(late["token"])).json
    assert shown["status"] == "scheduled" and shown["booking"]["sequence"] == 0


@pytest.mark.parametrize("role", ["supporter", "coordinator", "service"])
def test_supporters_staff_and_integrations_are_not_limited(world, clock, role):
    made = booked(world)
    clock.advance(hours=3)  # 12:00, an hour before the session
    token = (
        world.supporter_token("Ash")
        if role == "supporter"
        else issue_token(world.app, role, "acme")
    )
    booking_id = made["booking"]["id"]
    if role == "service":
        moved = world.client.post(
            f"/api/v1/bookings/{booking_id}/reschedule",
            json={"starts_at": "2026-03-05T13:00:00Z"},
            headers=auth(token),
        )
        assert moved.status_code == 200, moved.json
    cancelled = world.client.post(
        f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=auth(token)
    )
    assert cancelled.status_code == 200, cancelled.json


def test_a_zero_cutoff_allows_changes_until_the_start_and_names_the_coordinators(world, clock):
    world.client.patch(
        "/api/v1/programs/acme",
        json={"policy": {"change_cutoff_minutes": 90, "notify_email": "team@acme.test"}},
        headers=auth(world.admin),
    )
    made = booked(world)
    clock.advance(hours=2, minutes=30)  # 11:30: 90 minutes before, closed
    refused = world.client.post(
        f"/api/v1/requests/{made['id']}/cancel", json={}, headers=auth(made["token"])
    )
    assert refused.json["error"]["message"] == (
        "changes close 90 minutes before the session; contact the program's coordinators "
        "(team@acme.test) if you cannot come"
    )
    world.client.patch(
        "/api/v1/programs/acme",
        json={"policy": {"change_cutoff_minutes": 0}},
        headers=auth(world.admin),
    )
    clock.advance(hours=1, minutes=29)  # 12:59
    allowed = world.client.post(
        f"/api/v1/requests/{made['id']}/cancel", json={}, headers=auth(made["token"])
    )
    assert allowed.status_code == 200


def test_an_unbooked_request_is_withdrawn_at_any_time(world, clock):
    body = {"program": "acme", "topic": "stress", "urgency": "scheduled", "mode": "text"}
    made = world.client.post("/api/v1/requests", json={**body, "language": "en"}).json
    clock.advance(days=2)
    withdrawn = world.client.post(
        f"/api/v1/requests/{made['id']}/cancel", json={}, headers=auth(made["token"])
    )
    assert withdrawn.status_code == 200 and withdrawn.json["outcome"] == "withdrawn"
