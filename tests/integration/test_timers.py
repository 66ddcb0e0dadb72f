"""Timers move the clock, never sleep: reminders, offer timeouts, training notices, feedback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest

from core.channels.email_messages import build_message
from core.notify import kinds
from core.runtime import runtime
from tests.conftest import make_app
from tests.fakes.channel import RecordingChannel
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body, system_ctx
from tests.integration.test_deliveries import drain, rows

SENDER = "PeerLine <peerline@acme.test>"
THURSDAY_11 = "2026-03-05T11:00:00+00:00"  # the clock starts on Wednesday 09:00 UTC


@pytest.fixture
def chat(clock) -> Iterator[RecordingChannel]:
    """The chat channel; afterwards, every message it got must also render as an e-mail."""
    channel = RecordingChannel()
    yield channel
    for note in channel.sent:
        if note.kind not in kinds.OPTIONAL:
            build_message(note, sender=SENDER, recipient="reader@acme.test", now=clock.now())


@pytest.fixture
def app(database_url, tmp_path, clock, chat):
    application = make_app(database_url, tmp_path, clock, plugins=[chat.plugin()])
    yield application
    runtime(application).engine.dispose()


def tick(app) -> dict[str, int]:
    jobs = runtime(app).jobs
    assert jobs is not None
    return jobs.tick()


def run(app) -> list[str]:
    """One round of a worker: timers, then every due delivery."""
    tick(app)
    return drain(app)


def booked_world(app, client, **policy):
    world = make_world(app, client, policy={"session_minutes": 60, **policy})
    world.add_supporter("Ash", weekly=[{"weekday": "thu", "start": "09:00", "end": "13:00"}])
    body = request_body(
        urgency="scheduled",
        mode="video",
        requester={"platform": "slack", "subject": "U-ASKER"},
        slot={"supporter_id": world.supporters["Ash"]["id"], "starts_at": THURSDAY_11},
    )
    response = client.post("/api/v1/requests", json=body, headers=auth(world.service))
    assert response.status_code == 201, response.json
    run(app)  # the confirmations
    return world, response.json


def reminders(chat: RecordingChannel) -> list[tuple[str, int]]:
    return sorted(
        (n.audience, n.data["minutes_before"]) for n in chat.sent if n.kind == "booking_reminder"
    )


def test_reminders_reach_both_sides_once_at_each_point(app, client, clock, chat):
    booked_world(app, client)
    assert sorted(chat.kinds()) == ["booking_confirmed", "booking_confirmed"]
    clock.advance(hours=1, minutes=59)
    run(app)
    assert reminders(chat) == [], "not before 24 hours ahead"
    clock.advance(minutes=1)
    run(app)
    run(app)
    assert reminders(chat) == [("requester", 1440), ("supporter", 1440)]
    clock.advance(hours=23, minutes=45)  # Thursday 10:45
    run(app)
    assert reminders(chat) == [
        ("requester", 15),
        ("requester", 1440),
        ("supporter", 15),
        ("supporter", 1440),
    ]
    reminder = next(n for n in chat.sent if n.kind == "booking_reminder")
    assert reminder.data["booking"]["starts_at"] == THURSDAY_11
    assert "crisis_resources" in reminder.data or reminder.audience == "supporter"


def test_a_booking_made_after_a_reminder_point_skips_that_reminder(app, client, clock, chat):
    clock.advance(hours=3)  # Wednesday 12:00: the 24-hour point (Wed 11:00) has passed
    booked_world(app, client)
    run(app)
    assert reminders(chat) == []
    clock.advance(hours=22, minutes=45)
    run(app)
    assert reminders(chat) == [("requester", 15), ("supporter", 15)]


def test_a_cancelled_booking_is_not_reminded(app, client, clock, chat):
    world, request = booked_world(app, client)
    booking_id = request["booking"]["id"]
    cancelled = client.post(
        f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=auth(world.service)
    )
    assert cancelled.status_code == 200, cancelled.json
    run(app)
    cancels = [n for n in chat.sent if n.kind == "booking_cancelled"]
    assert sorted(n.audience for n in cancels) == ["requester", "supporter"]
    assert all(n.data["method"] == "CANCEL" and n.data["booking"]["sequence"] == 1 for n in cancels)
    clock.advance(hours=26)
    run(app)
    assert reminders(chat) == []


def test_unanswered_offer_times_out_and_the_requester_hears_honestly(app, client, clock, chat):
    world = make_world(app, client, policy={"offer_batch_size": 1, "offer_timeout_minutes": 10})
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    body = request_body(requester={"platform": "slack", "subject": "U-ASKER"})
    assert (
        client.post("/api/v1/requests", json=body, headers=auth(world.service)).status_code == 201
    )
    run(app)
    assert chat.kinds() == ["offer_made"]
    clock.advance(minutes=10)
    run(app)
    assert sorted(chat.kinds()[1:]) == ["nobody_free", "offer_expired"]
    [told] = [n for n in chat.sent if n.kind == "nobody_free"]
    assert told.audience == "requester" and told.data["can_book"] is True
    assert told.data["crisis_resources"] and "not a crisis" in told.data["not_a_crisis"]
    clock.advance(minutes=5)
    run(app)
    assert chat.kinds().count("nobody_free") == 1, "said once, not on every retry"
    clock.advance(hours=1)
    run(app)
    assert chat.kinds()[-1] == "request_expired"


def test_training_notices_before_expiry_and_at_lapse(app, client, clock, chat):
    world = make_world(
        app,
        client,
        policy={"required_trainings": ["Peer support"], "notify_email": "lead@acme.test"},
    )
    ash = world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    added = client.post(
        f"/api/v1/supporters/{ash['id']}/trainings",
        json={"name": "Peer support", "completed_on": "2024-06-01", "expires_on": "2026-06-30"},
        headers=auth(world.admin),
    )
    assert added.status_code == 201, added.json
    seen = []
    for day in ("2026-03-04", "2026-04-01", "2026-04-02", "2026-05-31", "2026-06-30", "2026-07-01"):
        clock.set(datetime.fromisoformat(f"{day}T09:00:00+00:00"))
        run(app)
        seen.append(sorted((n.kind, n.audience, n.data.get("days_left")) for n in chat.sent))
        chat.sent.clear()
    assert seen[0] == [], "118 days left: nothing yet"
    assert seen[1] == [
        ("training_expiring", "coordinator", 90),
        ("training_expiring", "supporter", 90),
    ]
    assert seen[2] == [], "once per threshold"
    assert seen[3] == [
        ("training_expiring", "coordinator", 30),
        ("training_expiring", "supporter", 30),
    ]
    assert seen[4] == [("training_lapsed", "coordinator", 0), ("training_lapsed", "supporter", 0)]
    assert seen[5] == []


def test_feedback_is_asked_once_after_a_booked_session(app, client, clock, chat):
    booked_world(app, client)
    clock.advance(hours=27)  # Thursday 12:00, the session has ended
    run(app)
    run(app)
    assert chat.kinds("requester").count("feedback_prompt") == 1


@pytest.mark.postgres
def test_timers_on_several_workers_at_once_decide_each_message_once(
    app, client, clock, chat, database_url
):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent workers need PostgreSQL; SQLite runs one")
    booked_world(app, client)
    clock.advance(hours=2)
    gate = threading.Barrier(4)

    def worker() -> None:
        gate.wait()
        tick(app)
        drain(app)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reminders(chat) == [("requester", 1440), ("supporter", 1440)]
    with system_ctx(app).session:
        assert len(rows(app, kind="booking_reminder")) == 2


def test_finished_messages_are_forgotten_after_the_retention_window(app, client, clock, chat):
    booked_world(app, client, retention_days=7)
    assert len(rows(app, status="sent")) == 2
    clock.advance(days=6)
    run(app)
    assert len(rows(app, kind="booking_confirmed")) == 2, "kept within the window"
    clock.advance(days=2)
    run(app)
    assert rows(app, kind="booking_confirmed") == [], "snapshots (aliases, times) are gone"


def test_a_session_nobody_closed_is_closed_and_then_purged(app, client, clock, chat):
    _world, request = booked_world(app, client, retention_days=7)
    view = f"/api/v1/requests/{request['id']}"
    requester = auth(request["token"])
    clock.advance(hours=50)  # Friday 11:00: 23 hours after the session ended
    run(app)
    assert client.get(view, headers=requester).json["status"] == "scheduled", "a day's grace"
    clock.advance(hours=1)
    run(app)
    closed = client.get(view, headers=requester).json
    assert (closed["status"], closed["outcome"]) == ("closed", "completed")
    assert chat.kinds("requester").count("feedback_prompt") == 1
    clock.advance(days=7)
    run(app)
    with system_ctx(app).session as session:
        from core.models import RequesterIdentity

        assert session.query(RequesterIdentity).count() == 0, "the identity is gone"


def test_a_pause_until_a_date_ends_by_itself(app, client, clock, chat):
    world = make_world(app, client, policy={"offer_batch_size": 1})
    ash = world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    own = auth(world.supporter_token("Ash"))
    for bad in ("2026-03-04", "2026-03-01", "not-a-date"):
        refused = client.post(f"/api/v1/supporters/{ash['id']}/pause?until={bad}", headers=own)
        assert refused.status_code == 422 and refused.json["error"]["field"] == "until", bad
    paused = client.post(f"/api/v1/supporters/{ash['id']}/pause?until=2026-03-06", headers=own)
    assert paused.status_code == 200 and paused.json["paused_until"] == "2026-03-06"
    assert client.post("/api/v1/requests", json=request_body()).json["status"] == "open"
    clock.advance(hours=23)  # Thursday 08:00: still paused
    run(app)
    assert client.get(f"/api/v1/supporters/{ash['id']}", headers=own).json["status"] == "paused"
    clock.advance(hours=24)  # Friday 08:00 in London
    run(app)
    back = client.get(f"/api/v1/supporters/{ash['id']}", headers=own).json
    assert (back["status"], back["paused_until"]) == ("active", None)
    assert client.post("/api/v1/requests", json=request_body()).json["status"] == "offered"
