"""Plugins extend the app through one hook; events reach them only after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import click
from flask import Blueprint

from core.events import OfferMade, RequestCreated
from core.plugins import ENTRY_POINT_GROUP, PluginHost, discover
from core.ports import DeliveryResult, Notification, NotificationChannel
from core.runtime import runtime
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, make_world, request_body


@dataclass
class RecordingChannel:
    name: str = "recording"
    sent: list[Notification] = field(default_factory=list)

    def can_reach(self, notification: Notification) -> bool:
        return True

    def deliver(self, notification: Notification) -> DeliveryResult:
        self.sent.append(notification)
        return DeliveryResult(delivered=True)


def sample_plugin(seen: list[object]):
    def init_app(host: PluginHost) -> None:
        blueprint = Blueprint("sample", __name__)
        blueprint.add_url_rule("/sample/ping", "ping", lambda: {"pong": True})
        host.add_blueprint(blueprint)
        host.add_command(click.Command("sample-hello", callback=lambda: click.echo("hello")))
        host.subscribe(RequestCreated, seen.append)
        host.subscribe(OfferMade, seen.append)
        host.add_channel(RecordingChannel())

    return init_app


def test_a_plugin_adds_routes_commands_handlers_and_channels(database_url, tmp_path, clock):
    seen: list[object] = []
    app = _with_plugin(database_url, tmp_path, clock, seen)
    client = app.test_client()
    assert client.get("/sample/ping").json == {"pong": True}
    assert app.test_cli_runner().invoke(args=["sample-hello"]).output == "hello\n"
    assert isinstance(runtime(app).channels["recording"], NotificationChannel)
    assert runtime(app).plugins == ["sample"]
    world = make_world(app, client)
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    created = client.post(
        "/api/v1/requests",
        json=request_body(note="this must not travel in events"),
    ).json
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["RequestCreated", "OfferMade"]
    assert str(seen[0].request_id) == created["id"]
    assert "this must not travel" not in repr(seen)


def test_events_of_a_rolled_back_transaction_are_never_published(database_url, tmp_path, clock):
    seen: list[object] = []
    app = _with_plugin(database_url, tmp_path, clock, seen)
    client = app.test_client()
    world = make_world(app, client)
    world.add_supporter("Ash", weekly=[{"weekday": "thu", "start": "09:00", "end": "10:00"}])
    slot = client.get(
        "/api/v1/slots?program=acme&from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z"
    ).json["slots"][0]
    body = {
        "program": "acme",
        "topic": "stress",
        "urgency": "scheduled",
        "mode": "text",
        "language": "en",
        "slot": {"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]},
    }
    assert client.post("/api/v1/requests", json=body).status_code == 201
    seen.clear()
    assert client.post("/api/v1/requests", json=body).status_code == 409
    assert seen == [], "RequestCreated was recorded, then rolled back with the failed booking"


def test_a_failing_handler_does_not_break_the_request(database_url, tmp_path, clock, caplog):
    def explode(_event: object) -> None:
        raise RuntimeError("handler bug")

    app = make_app(database_url, tmp_path, clock)
    runtime(app).bus.subscribe(RequestCreated, explode)
    client = app.test_client()
    make_world(app, client)
    response = client.post(
        "/api/v1/requests",
        json=request_body(urgency="scheduled"),
    )
    assert response.status_code == 201
    assert "event handler" in caplog.text


def test_plugins_are_discovered_from_the_entry_point_group(monkeypatch):
    class FakeEntry:
        name = "fake"

        def load(self):
            return lambda host: None

    class MissingDependency:
        name = "needs-sdk"

        def load(self):
            raise ModuleNotFoundError("No module named 'slack_bolt'", name="slack_bolt")

    def fake_entry_points(group: str):
        assert group == ENTRY_POINT_GROUP
        return [FakeEntry(), MissingDependency()]

    monkeypatch.setattr("core.plugins.entry_points", fake_entry_points)
    found = discover()
    assert [name for name, _ in found] == ["fake"]


def _with_plugin(database_url, tmp_path, clock, seen):
    from core import create_app
    from core.models import Base

    app = create_app(
        {"database_url": database_url, "env": "testing", "instance_path": tmp_path / "instance2"},
        clock=clock,
        plugins=[("sample", sample_plugin(seen))],
    )
    Base.metadata.create_all(runtime(app).engine)
    return app


def test_database_errors_never_carry_the_values_that_were_sent(database_url, tmp_path, clock):
    from sqlalchemy.exc import IntegrityError

    from core.models import SupportRequest

    app = make_app(database_url, tmp_path, clock)
    with runtime(app).session_factory() as session:
        session.add(
            SupportRequest(
                program_id=uuid.uuid4(),
                alias="x",
                topic="t",
                urgency="now",
                mode="text",
                language="en",
                note="secret words here",
                token_hash="h",
                created_at=clock.now(),
            )
        )
        try:
            session.flush()
        except IntegrityError as exc:  # no such program: a foreign-key failure
            assert "secret words" not in str(exc)
        else:
            raise AssertionError("the foreign key should have refused the row")


def test_every_domain_event_fires_once_with_ids_only(database_url, tmp_path, clock):
    from core import events
    from core.services import matching
    from tests.helpers import auth, system_ctx

    seen: list[events.DomainEvent] = []
    app = make_app(database_url, tmp_path, clock)
    runtime(app).bus.subscribe(events.DomainEvent, seen.append)
    client = app.test_client()
    world = make_world(app, client, policy={"offer_batch_size": 1, "offer_timeout_minutes": 5})
    for alias in ("Ash", "Birch", "Cedar"):
        world.add_supporter(alias, weekly=EVERY_WEEKDAY)
    now = client.post(
        "/api/v1/requests",
        json=request_body(),
    ).json
    first = next(
        a
        for a in world.supporters
        if client.get(
            "/api/v1/offers?status=pending&program=acme", headers=auth(world.supporter_token(a))
        ).json
    )
    token = world.supporter_token(first)
    [offer] = client.get("/api/v1/offers?status=pending", headers=auth(token)).json
    client.post(f"/api/v1/offers/{offer['id']}/decline", headers=auth(token))
    clock.advance(minutes=6)
    ctx = system_ctx(app)
    with ctx.session:
        matching.expire_offers(ctx)
    last = next(
        a
        for a in world.supporters
        if client.get("/api/v1/offers?status=pending", headers=auth(world.supporter_token(a))).json
    )
    token = world.supporter_token(last)
    [offer] = client.get("/api/v1/offers?status=pending", headers=auth(token)).json
    client.post(f"/api/v1/offers/{offer['id']}/accept", headers=auth(token))
    client.post(f"/api/v1/requests/{now['id']}/start-chat", headers=auth(token))
    client.post(f"/api/v1/requests/{now['id']}/close", json={}, headers=auth(token))
    later = client.post(
        "/api/v1/requests",
        json=request_body(urgency="scheduled"),
    ).json
    found = client.get(
        "/api/v1/slots?program=acme&from=2026-03-05T09:00:00Z&to=2026-03-05T12:00:00Z"
    ).json["slots"]
    booking = client.post(
        "/api/v1/bookings",
        headers=auth(later["token"]),
        json={
            "request_id": later["id"],
            "supporter_id": found[0]["supporter"]["id"],
            "starts_at": found[0]["starts_at"],
        },
    ).json
    moved = next(
        s
        for s in found
        if s["supporter"]["id"] == found[0]["supporter"]["id"]
        and s["starts_at"] >= "2026-03-05T11:00"
    )
    client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        headers=auth(later["token"]),
        json={"starts_at": moved["starts_at"]},
    )
    client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=auth(later["token"]))
    assert [type(e).__name__ for e in seen] == [
        "RequestCreated",
        "OfferMade",
        "OfferDeclined",
        "OfferMade",
        "OfferExpired",
        "OfferMade",
        "OfferAccepted",
        "ChatStarted",
        "SessionClosed",
        "RequestCreated",
        "BookingConfirmed",
        "BookingRescheduled",
        "BookingCancelled",
        "SessionClosed",
    ]
    assert all(e.program_id == seen[0].program_id for e in seen)
    for event in seen:
        for value in vars(event).values():
            assert not isinstance(value, str) or value in (
                "now",
                "scheduled",
                "completed",
                "cancelled",
                "requester",
            )
