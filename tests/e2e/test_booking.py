"""Scheduled requests over HTTP: slots, booking, buffers, caps, reschedule, cancel, feedback."""

from __future__ import annotations

import uuid

from sqlalchemy import event, func, select

from core.models import (
    AuditEvent,
    Booking,
    Delivery,
    Feedback,
    RequesterCalendar,
    RequesterIdentity,
    Supporter,
    SupportRequest,
)
from core.runtime import runtime
from core.services import matching, retention
from tests.helpers import auth, make_world, request_body, system_ctx

THURSDAY = "from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z"


def scheduled(client, **fields):
    body = {
        "program": "acme",
        "topic": "stress",
        "urgency": "scheduled",
        "mode": "video",
        "language": "en",
        **fields,
    }
    response = client.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.json
    return response.json


def slots(client, query=THURSDAY, **params):
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    response = client.get(f"/api/v1/slots?program=acme&{query}{extra}")
    assert response.status_code == 200, response.json
    return response.json


def book(client, request, slot):
    return client.post(
        "/api/v1/bookings",
        headers=auth(request["token"]),
        json={
            "request_id": request["id"],
            "supporter_id": slot["supporter"]["id"],
            "starts_at": slot["starts_at"],
        },
    )


def setup(app, client, **policy):
    world = make_world(
        app,
        client,
        policy={"session_minutes": 60, "buffer_minutes": 15, "slot_step_minutes": 15, **policy},
    )
    world.add_supporter("Ash", weekly=[{"weekday": "thu", "start": "09:00", "end": "12:00"}])
    return world


def count_rows(app, model):
    with system_ctx(app).session as session:
        return session.scalar(select(func.count()).select_from(model))


def starts(found):
    return [s["starts_at"] for s in found["slots"]]


def test_booking_removes_the_slot_and_its_buffered_neighbours(app, client):
    setup(app, client)
    before = slots(client)
    assert starts(before) == [
        f"2026-03-05T{h}Z"
        for h in (
            "09:00:00",
            "09:15:00",
            "09:30:00",
            "09:45:00",
            "10:00:00",
            "10:15:00",
            "10:30:00",
            "10:45:00",
            "11:00:00",
        )
    ]
    request = scheduled(client)
    booked = book(client, request, before["slots"][8])  # 11:00-12:00
    assert booked.status_code == 201, booked.json
    assert booked.json["sequence"] == 0 and booked.json["calendar_uid"].endswith("@peerline")
    # 15-minute buffer: a 60-minute slot must end by 10:45.
    assert starts(slots(client)) == [
        f"2026-03-05T{h}Z" for h in ("09:00:00", "09:15:00", "09:30:00", "09:45:00")
    ]
    view = client.get(f"/api/v1/requests/{request['id']}", headers=auth(request["token"])).json
    assert view["status"] == "scheduled" and view["booking"]["supporter"]["alias"] == "Ash"


def test_slots_come_back_in_the_viewers_time_zone(app, client):
    setup(app, client)
    found = slots(client, tz="America/New_York")
    assert found["time_zone"] == "America/New_York"
    assert found["slots"][0]["starts_at"] == "2026-03-05T04:00:00-05:00"


def test_taken_slot_gets_409_and_changes_nothing(app, client):
    setup(app, client)
    slot = slots(client)["slots"][0]
    first, second = scheduled(client), scheduled(client)
    assert book(client, first, slot).status_code == 201
    clash = book(client, second, slot)
    assert clash.status_code == 409 and clash.json["error"]["code"] == "slot_unavailable"
    view = client.get(f"/api/v1/requests/{second['id']}", headers=auth(second["token"])).json
    assert view["status"] == "open" and view["booking"] is None


def test_weekly_cap_closes_the_rest_of_the_week(app, client):
    world = setup(app, client, weekly_cap=1)
    world.add_supporter(
        "Birch", weekly=[{"weekday": "fri", "start": "09:00", "end": "10:00"}], weekly_cap=1
    )
    week = "from=2026-03-05T00:00:00Z&to=2026-03-07T00:00:00Z"
    ash_slot = next(s for s in slots(client, week)["slots"] if s["supporter"]["alias"] == "Ash")
    assert book(client, scheduled(client), ash_slot).status_code == 201
    aliases = {s["supporter"]["alias"] for s in slots(client, week)["slots"]}
    assert aliases == {"Birch"}
    next_week = slots(client, "from=2026-03-12T00:00:00Z&to=2026-03-13T00:00:00Z")
    assert {s["supporter"]["alias"] for s in next_week["slots"]} == {"Ash"}


def test_a_requester_books_only_its_own_request_and_an_integration_any_in_its_program(app, client):
    world = setup(app, client)
    found = slots(client)["slots"]
    mine, theirs = scheduled(client), scheduled(client)
    body = {"request_id": theirs["id"], "supporter_id": found[0]["supporter"]["id"],
            "starts_at": found[0]["starts_at"]}  # fmt: skip
    refused = client.post("/api/v1/bookings", headers=auth(mine["token"]), json=body)
    assert refused.status_code == 404 and refused.json["error"]["field"] == "request_id"
    booked = client.post("/api/v1/bookings", headers=auth(world.service), json=body)
    assert booked.status_code == 201, booked.json
    assert booked.json["request_alias"] == theirs["alias"]
    assert booked.json["supporter"]["alias"] == "Ash"
    with system_ctx(app).session as session:
        confirmed = session.scalars(
            select(Delivery.audience).where(Delivery.kind == "booking_confirmed")
        ).all()
        audited = session.scalars(
            select(AuditEvent.actor_role).where(AuditEvent.action == "booking.confirmed")
        ).all()
        assert session.get_one(SupportRequest, uuid.UUID(mine["id"])).status == "open"
    assert confirmed == ["supporter"], "an anonymous requester has no address to tell"
    assert audited == ["service"]


def test_a_requester_who_left_an_address_is_told_and_their_booking_asks_once(app, client):
    """The lock of the request reads whether it can be told; the commit does not ask again."""
    setup(app, client)
    slot = slots(client)["slots"][0]
    reachable = scheduled(client, email="someone@example.edu")
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_):
        statements.append(statement)

    engine = runtime(app).engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert book(client, reachable, slot).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with system_ctx(app).session as session:
        told = session.scalars(
            select(Delivery.audience).where(Delivery.kind == "booking_confirmed")
        ).all()
    assert sorted(told) == ["requester", "supporter"]
    asked = [s.split(None, 1)[0] for s in statements if "requester_identities" in s]
    assert asked == ["UPDATE"], "read with the request's lock, not again at the commit"


def test_request_with_a_slot_books_at_once_or_stores_nothing(app, client):
    setup(app, client)
    slot = slots(client)["slots"][0]
    choice = {"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]}
    made = scheduled(client, slot=choice)
    assert made["status"] == "scheduled" and made["booking"]["starts_at"] == slot["starts_at"]
    count = count_rows(app, SupportRequest)
    again = client.post(
        "/api/v1/requests",
        json={
            "program": "acme",
            "topic": "stress",
            "urgency": "scheduled",
            "mode": "video",
            "language": "en",
            "slot": choice,
        },
    )
    assert again.status_code == 409
    assert count_rows(app, SupportRequest) == count


def test_reschedule_keeps_the_uid_and_bumps_the_sequence(app, client):
    setup(app, client)
    found = slots(client)["slots"]
    request = scheduled(client)
    booking = book(client, request, found[0]).json
    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        headers=auth(request["token"]),
        json={"starts_at": found[-1]["starts_at"]},
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["calendar_uid"] == booking["calendar_uid"]
    assert moved.json["sequence"] == 1 and moved.json["starts_at"] == found[-1]["starts_at"]
    assert found[0]["starts_at"] in starts(slots(client)), "the old time is free again"


def test_cancel_frees_the_slot_and_closes_the_request(app, client):
    setup(app, client)
    slot = slots(client)["slots"][0]
    request = scheduled(client)
    booking = book(client, request, slot).json
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(request["token"])
    )
    assert cancelled.json["status"] == "cancelled" and cancelled.json["sequence"] == 1
    assert slot["starts_at"] in starts(slots(client))
    view = client.get(f"/api/v1/requests/{request['id']}", headers=auth(request["token"])).json
    assert (view["status"], view["outcome"]) == ("closed", "cancelled")


def test_feedback_after_a_completed_session_once_and_unlinked(app, client):
    world = setup(app, client)
    request = scheduled(client)
    book(client, request, slots(client)["slots"][0])
    early = client.post(
        f"/api/v1/requests/{request['id']}/feedback",
        headers=auth(request["token"]),
        json={"rating": 5},
    )
    assert early.status_code == 409
    token = world.supporter_token("Ash")
    closed = client.post(
        f"/api/v1/requests/{request['id']}/close",
        json={"outcome": "completed"},
        headers=auth(token),
    )
    assert closed.status_code == 200, closed.json
    given = client.post(
        f"/api/v1/requests/{request['id']}/feedback",
        headers=auth(request["token"]),
        json={"rating": 4, "comment": "helped a lot"},
    )
    assert given.status_code == 204
    twice = client.post(
        f"/api/v1/requests/{request['id']}/feedback",
        headers=auth(request["token"]),
        json={"rating": 1},
    )
    assert twice.status_code == 409
    columns = set(Feedback.__table__.columns.keys())
    assert columns == {"id", "program_id", "rating", "comment", "submitted_on"}


def test_notes_and_identities_are_purged_after_retention(app, client, clock):
    world = make_world(app, client, policy={"retention_days": 7})
    created = client.post(
        "/api/v1/requests",
        headers=auth(world.service),
        json=request_body(
            note="private words",
            requester={"platform": "slack", "subject": "T1:U42"},
            channel="slack",
        ),
    ).json
    client.post(f"/api/v1/requests/{created['id']}/cancel", json={}, headers=auth(created["token"]))
    clock.advance(days=6)
    ctx = system_ctx(app)
    with ctx.session:
        assert retention.purge_expired(ctx) == 0
    clock.advance(days=2)
    ctx = system_ctx(app)
    with ctx.session:
        assert retention.purge_expired(ctx) == 1
        row = ctx.session.get(SupportRequest, uuid.UUID(created["id"]))
        assert row is not None and row.note is None and row.purged_at is not None
        assert ctx.session.scalar(select(func.count()).select_from(RequesterIdentity)) == 0
        assert ctx.session.scalar(select(func.count()).select_from(Booking)) == 0
        # nothing keyed by the identity's hash outlives it (a feed's calendar version)
        assert ctx.session.scalar(select(func.count()).select_from(RequesterCalendar)) == 0


def test_supporter_edits_keep_contacts_and_name_the_clashing_field(app, client):
    world = make_world(app, client)
    ash = world.add_supporter("Ash", contacts=[{"platform": "email", "address": "alias@x.example"}])
    world.add_supporter("Birch")
    kept = client.patch(
        f"/api/v1/supporters/{ash['id']}",
        headers=auth(world.admin),
        json={
            "contacts": [
                {"platform": "email", "address": "alias@x.example"},
                {"platform": "slack", "address": "U123"},
            ]
        },
    )
    assert kept.status_code == 200, kept.json
    assert len(kept.json["contacts"]) == 2
    birch = world.supporters["Birch"]["id"]
    clash = client.patch(
        f"/api/v1/supporters/{birch}",
        headers=auth(world.admin),
        json={"contacts": [{"platform": "email", "address": "alias@x.example"}]},
    )
    assert clash.status_code == 409 and clash.json["error"]["field"] == "contacts"
    same_alias = client.patch(
        f"/api/v1/supporters/{birch}", headers=auth(world.admin), json={"alias": "Ash"}
    )
    assert same_alias.status_code == 409 and same_alias.json["error"]["field"] == "alias"
    both = client.patch(
        f"/api/v1/supporters/{birch}",
        headers=auth(world.admin),
        json={"alias": "Ash", "contacts": [{"platform": "slack", "address": "U999"}]},
    )
    assert both.status_code == 409 and both.json["error"]["field"] == "alias"


def test_a_scheduled_request_never_booked_expires_after_the_horizon(app, client, clock):
    setup(app, client, horizon_days=14)
    request = scheduled(client)
    clock.advance(days=13)
    ctx = system_ctx(app)
    with ctx.session:
        matching.retry_waiting(ctx)
    assert (
        client.get(f"/api/v1/requests/{request['id']}", headers=auth(request["token"])).json[
            "status"
        ]
        == "open"
    )
    clock.advance(days=1)
    ctx = system_ctx(app)
    with ctx.session:
        matching.retry_waiting(ctx)
    view = client.get(f"/api/v1/requests/{request['id']}", headers=auth(request["token"])).json
    assert (view["status"], view["outcome"]) == ("closed", "expired")


def test_the_supporter_starts_a_scheduled_chat_and_closes_it(app, client):
    world = setup(app, client)
    request = scheduled(client)
    booking = book(client, request, slots(client)["slots"][0]).json
    token = world.supporter_token("Ash")
    started = client.post(f"/api/v1/requests/{request['id']}/start-chat", headers=auth(token))
    assert started.status_code == 200 and started.json["status"] == "in_chat"
    closed = client.post(f"/api/v1/requests/{request['id']}/close", json={}, headers=auth(token))
    assert closed.json["status"] == "closed"
    mine = client.get(f"/api/v1/bookings/{booking['id']}", headers=auth(token)).json
    assert mine["status"] == "completed" and mine["request_alias"] == request["alias"]


def test_weekly_hours_follow_the_supporters_clock_across_dst_and_overrides(app, client):
    world = make_world(app, client, policy={"session_minutes": 60, "slot_step_minutes": 60})
    ny = world.add_supporter(
        "Ash",
        time_zone="America/New_York",
        weekly=[{"weekday": "fri", "start": "09:00", "end": "10:00"}],
    )
    week = "from=2026-03-05T00:00:00Z&to=2026-03-21T00:00:00Z"
    assert starts(slots(client, week)) == [
        "2026-03-06T14:00:00Z",  # EST, UTC-5
        "2026-03-13T13:00:00Z",  # EDT from Sunday 8 March, UTC-4
        "2026-03-20T13:00:00Z",
    ]
    for body in (
        {"date": "2026-03-13", "available": False},
        {"date": "2026-03-07", "available": True, "start": "20:00", "end": "21:00"},
    ):
        added = client.post(
            f"/api/v1/supporters/{ny['id']}/overrides", json=body, headers=auth(world.admin)
        )
        assert added.status_code == 201, added.json
    assert starts(slots(client, week)) == [
        "2026-03-06T14:00:00Z",
        "2026-03-08T01:00:00Z",  # Saturday 20:00 EST, extra hours
        "2026-03-20T13:00:00Z",
    ]
    shown = slots(client, week, tz="Asia/Tokyo")["slots"][0]["starts_at"]
    assert shown == "2026-03-06T23:00:00+09:00"


def test_a_refused_booking_leaves_no_trace_and_says_why(app, client):
    world = setup(app, client)
    slot = slots(client)["slots"][0]
    first, second = scheduled(client), scheduled(client)
    assert book(client, first, slot).status_code == 201
    before = count_rows(app, AuditEvent), count_rows(app, Delivery)
    with system_ctx(app).session as session:
        ash = uuid.UUID(world.supporters["Ash"]["id"])
        assigned = session.get_one(Supporter, ash).last_assigned_at
    again = book(client, first, slots(client)["slots"][0])
    assert again.status_code == 409
    assert again.json["error"]["message"] == (
        "this request is scheduled; only an open request can be booked"
    )
    other_program = {**second, "id": str(uuid.uuid4())}
    missing = client.post(
        "/api/v1/bookings",
        headers=auth(world.service),
        json={"request_id": other_program["id"], "supporter_id": str(ash),
              "starts_at": slot["starts_at"]},
    )  # fmt: skip
    assert missing.status_code == 404 and missing.json["error"]["field"] == "request_id"
    nobody = {**slot, "supporter": {"id": str(uuid.uuid4())}}
    unknown = book(client, second, nobody)
    assert unknown.status_code == 404 and unknown.json["error"]["field"] == "supporter_id"
    taken = client.post(
        "/api/v1/bookings",
        headers={**auth(second["token"]), "Idempotency-Key": "once"},
        json={"request_id": second["id"], "supporter_id": str(ash),
              "starts_at": slot["starts_at"]},
    )  # fmt: skip
    assert taken.status_code == 409 and taken.json["error"]["code"] == "slot_unavailable"
    assert (count_rows(app, AuditEvent), count_rows(app, Delivery)) == before
    with system_ctx(app).session as session:
        request = session.get_one(SupportRequest, uuid.UUID(second["id"]))
        assert (request.status, request.supporter_id, request.matched_at) == ("open", None, None)
        assert session.get_one(Supporter, ash).last_assigned_at == assigned
