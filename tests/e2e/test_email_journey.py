"""A student's booking by e-mail, end to end: API, outbox, worker, SMTP, and the invite updating."""

from __future__ import annotations

from datetime import datetime

import icalendar
import pytest

from core.runtime import runtime
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.fakes.smtp import fake_smtp_servers
from tests.helpers import auth, make_world, request_body, system_ctx
from tests.integration.test_deliveries import drain

STUDENT = "student@school.test"
SUPPORTER = "ash@acme.test"


@pytest.fixture
def journey(database_url, tmp_path, clock):
    with fake_smtp_servers() as start:
        server = start()
        app = make_app(
            database_url,
            tmp_path,
            clock,
            plugins=[("lms", lms_plugin)],
            smtp_url=server.url(),
            smtp_from="PeerLine <peerline@acme.test>",
        )
        world = make_world(app, app.test_client(), policy={"session_minutes": 60})
        world.add_supporter(
            "Ash",
            weekly=[{"weekday": "thu", "start": "09:00", "end": "13:00"}],
            contacts=[{"platform": "email", "address": SUPPORTER}],
        )
        yield app, world, server
        runtime(app).engine.dispose()


def invites_to(server, address: str) -> list[icalendar.Calendar]:
    found = []
    for received in server.received:
        if address not in received.rcpt_tos:
            continue
        for part in received.message.walk():
            if part.get_content_type() == "text/calendar":
                calendar = icalendar.Calendar.from_ical(part.get_content())
                assert part.get_param("method") == str(calendar["METHOD"])
                found.append(calendar)
    return found


def event_of(calendar: icalendar.Calendar) -> icalendar.Event:
    [event] = calendar.walk("VEVENT")
    return event


def test_book_move_and_cancel_update_one_calendar_entry_on_both_sides(journey):
    app, _world, server = journey
    client = app.test_client()
    slots = client.get("/api/v1/slots?program=acme").json["slots"]
    first, later = slots[0], slots[-1]
    body = request_body(
        urgency="scheduled",
        mode="video",
        topic="grief",
        note="the private reason",
        email=STUDENT,
        slot={"supporter_id": first["supporter"]["id"], "starts_at": first["starts_at"]},
    )
    made = client.post("/api/v1/requests", json=body)
    assert made.status_code == 201, made.json
    token, booking = made.json["token"], made.json["booking"]
    drain(app)
    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"starts_at": later["starts_at"]},
        headers=auth(token),
    )
    assert moved.status_code == 200, moved.json
    drain(app)
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(token)
    )
    assert cancelled.status_code == 200
    drain(app)
    for address in (STUDENT, SUPPORTER):
        calendars = invites_to(server, address)
        methods = [str(c["METHOD"]) for c in calendars]
        assert methods == ["REQUEST", "REQUEST", "CANCEL"], address
        events = [event_of(c) for c in calendars]
        assert {str(e["UID"]) for e in events} == {booking["calendar_uid"]}
        assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
        assert events[1]["DTSTART"].dt == datetime.fromisoformat(later["starts_at"])
        assert str(events[2]["STATUS"]) == "CANCELLED"
        assert all(str(e["SUMMARY"]) == "Peer chat" for e in events)
    everything = b"\n".join(r.raw for r in server.received)
    assert b"grief" not in everything and b"the private reason" not in everything
    to_supporter = b"\n".join(r.raw for r in server.received if SUPPORTER in r.rcpt_tos)
    assert STUDENT.encode() not in to_supporter, "the supporter never learns the address"
    with system_ctx(app).session as session:
        from core.models import RequesterIdentity

        [row] = session.query(RequesterIdentity).all()
        assert STUDENT.encode() not in row.ciphertext + (row.email_ciphertext or b"")


def test_a_bad_email_address_is_refused_naming_the_field(journey):
    app, _world, _server = journey
    response = app.test_client().post("/api/v1/requests", json=request_body(email="not an address"))
    assert response.status_code == 422 and response.json["error"]["field"] == "email"


def test_reminder_and_notice_policy_round_trips_and_bad_values_name_their_field(journey):
    app, world, _server = journey
    client = app.test_client()
    admin = auth(world.admin)
    good = {"policy": {"reminder_minutes": [120, 10], "notify_email": "lead@acme.test"}}
    changed = client.patch("/api/v1/programs/acme", json=good, headers=admin)
    assert changed.status_code == 200, changed.json
    policy = client.get("/api/v1/programs/acme", headers=admin).json["policy"]
    assert policy["reminder_minutes"] == [120, 10] and policy["notify_email"] == "lead@acme.test"
    assert policy["training_reminder_days"] == [90, 30]
    for bad, field in (
        ({"reminder_minutes": [1]}, "policy.reminder_minutes.0"),
        ({"reminder_minutes": [60, 30, 15, 10, 5]}, "policy.reminder_minutes"),
        ({"training_reminder_days": [0]}, "policy.training_reminder_days.0"),
        ({"notify_email": "lead at acme"}, "policy.notify_email"),
    ):
        refused = client.patch("/api/v1/programs/acme", json={"policy": bad}, headers=admin)
        assert refused.status_code == 422 and refused.json["error"]["field"] == field, bad
    assert client.get("/api/v1/programs/acme", headers=admin).json["policy"] == policy


def test_the_coordinators_mailbox_can_be_cleared_but_no_other_policy_can_be_null(journey):
    app, world, _server = journey
    client = app.test_client()
    admin = auth(world.admin)
    set_ = {"policy": {"notify_email": "lead@acme.test"}}
    assert client.patch("/api/v1/programs/acme", json=set_, headers=admin).status_code == 200
    cleared = client.patch(
        "/api/v1/programs/acme", json={"policy": {"notify_email": None}}, headers=admin
    )
    assert cleared.status_code == 200, cleared.json
    assert cleared.json["policy"]["notify_email"] is None
    refused = client.patch(
        "/api/v1/programs/acme", json={"policy": {"session_minutes": None}}, headers=admin
    )
    assert refused.status_code == 422
    assert refused.json["error"]["field"] == "policy.session_minutes"
    assert client.get("/api/v1/programs/acme", headers=admin).json["policy"]["session_minutes"]
