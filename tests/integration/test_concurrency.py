"""The database, not luck, stops double bookings and double acceptances under real concurrency.

Every race here runs the real app in a threaded WSGI server on loopback; the racers are real
threads with their own HTTP connections, released together by a barrier.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.models import AuditEvent, Booking, Offer, Program, SupportRequest
from core.runtime import runtime
from tests.conftest import START, make_app, postgres_url, reset_postgres
from tests.helpers import EVERY_WEEKDAY, World, auth, make_world, request_body
from tests.live_server import live_server, race

TIMEOUT = (5, 20)  # (connect, read) seconds for every HTTP call
Reply = tuple[int, dict[str, Any]]
SessionFactory = Callable[[], Session]


def _app_on(backend: str, tmp_path: Path, clock: FrozenClock) -> Flask:
    if backend == "sqlite":
        return make_app(f"sqlite:///{tmp_path / 'race.sqlite3'}", tmp_path, clock)
    url = postgres_url()
    reset_postgres(url)
    return make_app(url, tmp_path, clock)


@pytest.fixture
def race_app(request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    """The app on the database named by the test's parameter."""
    app = _app_on(request.param, tmp_path, clock)
    yield app
    runtime(app).engine.dispose()


@pytest.fixture
def pg_app(tmp_path: Path, clock: FrozenClock) -> Iterator[Flask]:
    app = _app_on("postgresql", tmp_path, clock)
    yield app
    runtime(app).engine.dispose()


def _reply(response: requests.Response) -> Reply:
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"raw": response.text}


def _scheduled_request(world: World) -> dict[str, Any]:
    created = world.client.post(
        "/api/v1/requests",
        json={
            "program": world.slug,
            "topic": "stress",
            "urgency": "scheduled",
            "mode": "text",
            "language": "en",
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["status"] == "open"
    return created.json  # type: ignore[no-any-return]


def _first_free_slot(base: str, supporter_id: str) -> str:
    with requests.Session() as http:
        found = http.get(
            f"{base}/api/v1/slots",
            params={"program": "acme", "supporter": supporter_id, "mode": "text"},
            timeout=TIMEOUT,
        )
    assert found.status_code == 200, found.text
    slots = found.json()["slots"]
    assert slots, "the supporter should have free slots this week"
    return slots[0]["starts_at"]  # type: ignore[no-any-return]


def _assert_error_shape(body: dict[str, Any], codes: set[str]) -> None:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "field"} and {"code", "message"} <= set(error), body
    assert error["code"] in codes, body
    assert isinstance(error["message"], str) and error["message"], body


def _assert_no_server_errors(replies: list[Reply], caplog: pytest.LogCaptureFixture) -> None:
    assert all(status < 500 for status, _ in replies), [r for r in replies if r[0] >= 500]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "database is locked" not in caplog.text
    assert not [r for r in replies if "database is locked" in str(r[1])]


def _count(session: Session, action: str) -> int:
    return session.scalar(  # type: ignore[no-any-return]
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


@pytest.mark.parametrize(
    ("race_app", "racers"),
    [
        pytest.param("postgresql", 50, marks=pytest.mark.postgres, id="postgresql"),
        pytest.param("sqlite", 20, id="sqlite"),
    ],
    indirect=["race_app"],
)
def test_one_slot_booked_by_many_at_once_goes_to_exactly_one(
    race_app: Flask, racers: int, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(race_app, race_app.test_client())
    supporter_id = world.add_supporter("River Otter", weekly=EVERY_WEEKDAY)["id"]
    asks = [_scheduled_request(world) for _ in range(racers)]

    with live_server(race_app) as base:
        starts_at = _first_free_slot(base, supporter_id)

        def book(i: int, start: Callable[[], object]) -> Reply:
            body = {
                "request_id": asks[i]["id"],
                "supporter_id": supporter_id,
                "starts_at": starts_at,
            }
            with requests.Session() as http:
                start()
                return _reply(
                    http.post(
                        f"{base}/api/v1/bookings",
                        json=body,
                        headers=auth(asks[i]["token"]),
                        timeout=TIMEOUT,
                    )
                )

        replies = race(racers, book)

    _assert_no_server_errors(replies, caplog)
    assert Counter(status for status, _ in replies) == {201: 1, 409: racers - 1}, replies
    [winner] = [i for i, (status, _) in enumerate(replies) if status == 201]
    booked = replies[winner][1]
    assert booked["supporter"]["id"] == supporter_id
    assert datetime.fromisoformat(booked["starts_at"]) == datetime.fromisoformat(starts_at)
    for status, body in replies:
        if status == 409:
            _assert_error_shape(body, {"slot_unavailable"})
            assert body["error"]["field"] == "starts_at"

    with runtime(race_app).session_factory() as session:
        [booking] = session.scalars(
            select(Booking).where(
                Booking.supporter_id == uuid.UUID(supporter_id), Booking.status != "cancelled"
            )
        ).all()
        assert booking.request_id == uuid.UUID(asks[winner]["id"])
        assert booking.starts_at == datetime.fromisoformat(starts_at)
        state = {
            str(r.id): (r.status, r.supporter_id) for r in session.scalars(select(SupportRequest))
        }
        assert state.pop(asks[winner]["id"]) == ("scheduled", uuid.UUID(supporter_id))
        assert sorted(state) == sorted(a["id"] for i, a in enumerate(asks) if i != winner)
        assert set(state.values()) == {("open", None)}
        assert _count(session, "booking.confirmed") == 1


@pytest.mark.postgres
def test_a_talk_now_request_accepted_by_everyone_at_once_is_matched_once(
    pg_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(pg_app, pg_app.test_client())  # offer_batch_size 3, the default
    aliases = ("River Otter", "Sage Heron", "Amber Lynx")
    supporter_of = {world.add_supporter(a, weekly=EVERY_WEEKDAY)["id"]: a for a in aliases}
    created = world.client.post(
        "/api/v1/requests",
        json=request_body(),
    )
    assert created.status_code == 201, created.json
    assert created.json["status"] == "offered"
    tokens = [world.supporter_token(a) for a in aliases]

    with live_server(pg_app) as base:
        offer_ids = []
        with requests.Session() as http:
            for token in tokens:
                listed = http.get(
                    f"{base}/api/v1/offers",
                    params={"program": "acme"},
                    headers=auth(token),
                    timeout=TIMEOUT,
                )
                assert listed.status_code == 200, listed.text
                [offer] = listed.json()
                assert offer["status"] == "pending"
                offer_ids.append(offer["id"])

        def accept(i: int, start: Callable[[], object]) -> Reply:
            who = i % len(tokens)
            with requests.Session() as http:
                start()
                return _reply(
                    http.post(
                        f"{base}/api/v1/offers/{offer_ids[who]}/accept",
                        headers=auth(tokens[who]),
                        timeout=TIMEOUT,
                    )
                )

        replies = race(30, accept)

    _assert_no_server_errors(replies, caplog)
    assert Counter(status for status, _ in replies) == {200: 1, 409: 29}, replies
    [won] = [body for status, body in replies if status == 200]
    assert won["status"] == "accepted"
    for status, body in replies:
        if status == 409:
            _assert_error_shape(body, {"already_taken", "conflict"})

    with runtime(pg_app).session_factory() as session:
        request = session.get_one(SupportRequest, uuid.UUID(created.json["id"]))
        offers = session.scalars(select(Offer).where(Offer.request_id == request.id)).all()
        assert request.status == "matched"
        assert Counter(o.status for o in offers) == {"accepted": 1, "taken": 2}
        [accepted] = [o for o in offers if o.status == "accepted"]
        assert str(accepted.id) == won["id"]
        assert accepted.supporter_id == request.supporter_id
        assert str(request.supporter_id) in supporter_of
        assert _count(session, "offer.accepted") == 1


def _booking(
    world: dict[str, uuid.UUID],
    request_id: str,
    starts_at: datetime,
    *,
    supporter: str = "first",
    status: str = "confirmed",
) -> Booking:
    return Booking(
        id=uuid.uuid4(),
        program_id=world["program"],
        supporter_id=world[supporter],
        request_id=uuid.UUID(request_id),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=45),
        mode="text",
        status=status,
        calendar_uid=f"{uuid.uuid4()}@test",
        sequence=0,
        created_at=START,
        updated_at=START,
    )


def _insert(factory: SessionFactory, booking: Booking) -> IntegrityError | None:
    with factory() as session:
        session.add(booking)
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            return exc
    return None


def _assert_overlap_refused(error: IntegrityError | None) -> None:
    assert isinstance(error, IntegrityError), "an overlapping booking was stored"
    assert isinstance(error.orig, psycopg.errors.ExclusionViolation), error
    assert error.orig.diag.constraint_name == "bookings_no_overlap"
    assert "bookings_no_overlap" in str(error)


def _wait_until_blocked(factory: SessionFactory, pid: int) -> None:
    """Poll until backend `pid` waits on a lock: the constraint is holding it back."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with factory() as session:
            waiting = session.scalar(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
        if waiting == "Lock":
            return
        time.sleep(0.01)
    pytest.fail(f"backend {pid} never waited on the first booking's lock")


def _insert_while_first_uncommitted(
    factory: SessionFactory, first: Booking, second: Booking
) -> IntegrityError | None:
    """Insert `second` from another thread while `first` is flushed but not yet committed."""
    pids: queue.Queue[int] = queue.Queue()

    def insert_second() -> IntegrityError | None:
        with factory() as session:
            pids.put(session.scalar(text("SELECT pg_backend_pid()")))
            session.add(second)
            try:
                session.flush()
            except IntegrityError as exc:
                session.rollback()
                return exc
            session.rollback()
            return None

    with factory() as holder, ThreadPoolExecutor(1, thread_name_prefix="second") as pool:
        holder.add(first)
        holder.flush()
        future = pool.submit(insert_second)
        try:
            _wait_until_blocked(factory, pids.get(timeout=10))
            holder.commit()
        finally:
            holder.close()  # rolls back if the commit never happened, freeing the thread
        return future.result(timeout=20)


@pytest.mark.postgres
def test_the_database_refuses_overlapping_bookings_without_the_service(pg_app: Flask) -> None:
    client = pg_app.test_client()
    world = make_world(pg_app, client)
    first = uuid.UUID(world.add_supporter("River Otter")["id"])
    other = uuid.UUID(world.add_supporter("Sage Heron")["id"])
    asks = [_scheduled_request(world)["id"] for _ in range(6)]
    factory = runtime(pg_app).session_factory
    with factory() as session:
        program = session.scalar(select(Program.id))
    assert program is not None
    ids = {"program": program, "first": first, "other": other}
    ten = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)

    # Concurrent: the second insert cannot see the first (uncommitted), yet waits and fails.
    _assert_overlap_refused(
        _insert_while_first_uncommitted(
            factory,
            _booking(ids, asks[0], ten),
            _booking(ids, asks[1], ten + timedelta(minutes=30)),
        )
    )
    # Sequential: a booking inside a committed one.
    _assert_overlap_refused(_insert(factory, _booking(ids, asks[1], ten + timedelta(minutes=15))))
    # Touching ends, a cancelled overlap and another supporter's overlap are all fine.
    assert _insert(factory, _booking(ids, asks[1], ten + timedelta(minutes=45))) is None
    assert _insert(factory, _booking(ids, asks[2], ten - timedelta(minutes=45))) is None
    assert _insert(factory, _booking(ids, asks[3], ten, status="cancelled")) is None
    assert _insert(factory, _booking(ids, asks[4], ten, supporter="other")) is None

    with factory() as session:
        kept = session.scalars(
            select(Booking.starts_at)
            .where(Booking.supporter_id == first, Booking.status != "cancelled")
            .order_by(Booking.starts_at)
        ).all()
    assert kept == [ten - timedelta(minutes=45), ten, ten + timedelta(minutes=45)]


@pytest.mark.postgres
def test_a_supporter_accepting_many_offers_at_once_stays_within_the_concurrent_cap(
    pg_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(pg_app, pg_app.test_client(), policy={"concurrent_cap": 1})
    world.add_supporter("River Otter", weekly=EVERY_WEEKDAY)
    for _ in range(8):
        created = world.client.post(
            "/api/v1/requests",
            json=request_body(),
        )
        assert created.json["status"] == "offered", created.json
    token = world.supporter_token("River Otter")
    offers = world.client.get("/api/v1/offers?program=acme&status=pending", headers=auth(token))
    offer_ids = [o["id"] for o in offers.json]
    assert len(offer_ids) == 8

    with live_server(pg_app) as base:

        def accept(i: int, start: Callable[[], object]) -> Reply:
            with requests.Session() as http:
                start()
                return _reply(
                    http.post(
                        f"{base}/api/v1/offers/{offer_ids[i]}/accept",
                        headers=auth(token),
                        timeout=TIMEOUT,
                    )
                )

        replies = race(len(offer_ids), accept)

    _assert_no_server_errors(replies, caplog)
    assert Counter(status for status, _ in replies) == {200: 1, 409: 7}, replies
    with runtime(pg_app).session_factory() as session:
        matched = session.scalar(
            select(func.count())
            .select_from(SupportRequest)
            .where(SupportRequest.status == "matched")
        )
        assert matched == 1


@pytest.mark.postgres
def test_two_sweepers_expire_each_offer_once_and_move_the_request_on_once(
    pg_app: Flask, clock: FrozenClock
) -> None:
    from core.services import matching
    from tests.helpers import system_ctx

    world = make_world(
        pg_app, pg_app.test_client(), policy={"offer_batch_size": 1, "offer_timeout_minutes": 5}
    )
    for alias in ("Ash", "Birch", "Cedar"):
        world.add_supporter(alias, weekly=EVERY_WEEKDAY)
    for _ in range(4):
        world.client.post(
            "/api/v1/requests",
            json=request_body(),
        )
    clock.advance(minutes=6)

    def sweep(_: int, start: Callable[[], object]) -> int:
        ctx = system_ctx(pg_app)
        with ctx.session:
            start()
            return matching.expire_offers(ctx)

    assert sum(race(2, sweep)) == 4, "each of the four offers expired exactly once"
    with runtime(pg_app).session_factory() as session:
        per_request = Counter(
            request_id
            for (request_id,) in session.execute(
                select(Offer.request_id).where(Offer.status == "pending")
            )
        )
        assert sorted(per_request.values()) == [1, 1, 1, 1], "one new offer per request"


@pytest.mark.postgres
def test_cancel_racing_a_booking_never_leaves_a_booking_on_a_closed_request(
    pg_app: Flask,
) -> None:
    world = make_world(pg_app, pg_app.test_client())
    supporter = world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    with live_server(pg_app) as base:
        slot = _first_free_slot(base, supporter["id"])
        for _ in range(5):
            request = _scheduled_request(world)

            def act(i: int, start: Callable[[], object], request=request) -> int:
                with requests.Session() as http:
                    start()
                    if i == 0:
                        url, body = f"{base}/api/v1/requests/{request['id']}/cancel", {}
                    else:
                        url, body = (
                            f"{base}/api/v1/bookings",
                            {
                                "request_id": request["id"],
                                "supporter_id": supporter["id"],
                                "starts_at": slot,
                            },
                        )
                    return http.post(
                        url, json=body, headers=auth(request["token"]), timeout=TIMEOUT
                    ).status_code

            statuses = race(2, act)
            assert all(s < 500 for s in statuses), statuses
            with runtime(pg_app).session_factory() as session:
                row = session.get_one(SupportRequest, uuid.UUID(request["id"]))
                live = session.scalars(
                    select(Booking).where(
                        Booking.request_id == row.id, Booking.status == "confirmed"
                    )
                ).all()
                assert row.status == "closed" and not live, (row.status, statuses)
