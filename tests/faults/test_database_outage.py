"""PostgreSQL restarting under load, as `peerline serve` and `peerline worker` see it.

The shared server is never restarted. From the processes' side a restart is two things, and
both are done to this test's own database only: every backend is terminated (what a restart
does to open connections), and a loopback proxy between them and PostgreSQL is cut, so for a
while every connection is reset and every new one refused (the server being down). Neither
process is restarted; both must carry on by themselves.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from core import create_app, migrations
from core.clock import FrozenClock
from core.models import Booking
from core.ports import DeliveryResult, Notification
from core.runtime import runtime
from tests.conftest import make_app, postgres_url, reset_postgres
from tests.e2e.test_workers import (
    ALL_DAY,
    Stack,
    assert_each_sent_exactly_once,
    make_stack,
    settled,
    wait_for,
    worker,
)
from tests.fakes.channel import RecordingChannel
from tests.fakes.smtp import FakeSMTP
from tests.faults.load import BOOKERS, TIMEOUT, BookingLoad, Reply
from tests.faults.servers import LoopbackProxy
from tests.helpers import EVERY_WEEKDAY, drain_until_quiet, make_world, request_body
from tests.processes import free_port, running, slots_ahead, wait_until_up

pytestmark = pytest.mark.postgres
TERMINATIONS = 3
RETRIES_DUE = timedelta(minutes=2)
"""Past a first retry's time (30s at most) and the tick's 30s until it calls a job lost."""


@pytest.fixture
def seeded(tmp_path: Path, smtp: FakeSMTP) -> Iterator[tuple[Stack, Flask, str]]:
    """Three supporters free all week with room for many bookings, told by e-mail."""
    url = postgres_url()
    reset_postgres(url)
    stack = make_stack(tmp_path, url, smtp, redis=False)
    app = create_app(dict(stack.settings), plugins=None)
    migrations.upgrade(runtime(app).engine)
    world = make_world(app, app.test_client(), policy={"weekly_cap": 100, "buffer_minutes": 0})
    for number in range(3):
        contacts = [{"platform": "email", "address": f"s{number}@acme.test"}]
        world.add_supporter(f"Supporter {number}", weekly=ALL_DAY, contacts=contacts)
    yield stack, app, world.service
    runtime(app).engine.dispose()


def through(proxy: LoopbackProxy, url: str) -> str:
    """The same database URL, by way of the proxy."""
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def free_slots(base: str) -> list[dict[str, Any]]:
    apart: list[dict[str, Any]] = []  # slots start every 15 minutes; sessions last longer
    ends: dict[str, datetime] = {}
    for slot in slots_ahead(base, days=2):
        supporter, starts = slot["supporter"]["id"], datetime.fromisoformat(slot["starts_at"])
        if supporter not in ends or starts >= ends[supporter]:
            apart.append(slot)
            ends[supporter] = datetime.fromisoformat(slot["ends_at"])
    assert len(apart) >= 60, "enough slots that the load never runs out of free ones"
    return apart


def terminate_backends(url: str) -> int:
    """What a restart does to every open connection of this database (ours alone)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        engine.dispose()
    return int(killed or 0)


def gunicorn_workers(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def assert_clean_refusal(reply: Reply) -> None:
    """A 503 in the API's one error shape, saying to come back, with no trace of the fault."""
    assert reply.status == 503, reply
    assert isinstance(reply.body, dict) and set(reply.body) == {"error"}, reply.raw
    assert reply.body["error"]["code"] == "unavailable" and reply.body["error"]["message"]
    assert reply.retry_after is not None and int(reply.retry_after) > 0
    for leak in ("Traceback", "psycopg", "sqlalchemy", "OperationalError", "5432", "postgres"):
        assert leak not in reply.raw, reply.raw


def test_a_database_restart_under_load_loses_no_booking_and_needs_no_process_restart(
    seeded: tuple[Stack, Flask, str], smtp: FakeSMTP, tmp_path: Path
) -> None:
    stack, app, service = seeded
    url = stack.settings["database_url"]
    with LoopbackProxy((make_url(url).host or "127.0.0.1", make_url(url).port or 5432)) as proxy:
        stack.settings["database_url"] = through(proxy, url)
        port = free_port()
        serve = ["serve", "--port", str(port), "--workers", "1", "--threads", str(BOOKERS + 2)]
        with (
            running(serve, stack.env(), tmp_path, log=tmp_path / "serve.log") as server,
            running(worker(), stack.env(), tmp_path, log=tmp_path / "worker.log") as sender,
        ):
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, server)
            workers = gunicorn_workers(server.pid)
            with BookingLoad(base, free_slots(base), service) as load:
                health = restart_under_load(stack, url, load, proxy, app, base)
            assert server.poll() is None and gunicorn_workers(server.pid) == workers, (
                "the app recovered by itself: same master, same worker"
            )
            after = requests.get(f"{base}/readyz", timeout=TIMEOUT)
            catch_up(stack, app, "the worker, which lived through it, to catch up")
            assert sender.poll() is None
    ready, alive = health
    assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")
    assert alive.status_code == 200, "liveness does not depend on the database"
    assert after.status_code == 200 and after.json()["database"] == "ok"
    assert_answers_by_phase(load)
    confirmed = assert_every_201_is_stored_once(url, load)
    kinds = assert_each_sent_exactly_once(app, smtp)
    assert kinds == {"booking_confirmed": confirmed}, "each booking's supporter told once"
    assert_no_crash_logged(tmp_path / "serve.log")


def assert_no_crash_logged(log: Path) -> None:
    """To PeerLine an outage is a warning: neither it nor gunicorn logs an error or a trace."""
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            core_error = entry["level"] == "ERROR" and entry["logger"].startswith("core")
            assert not core_error, entry["message"]
        else:
            assert "[ERROR]" not in line and "Traceback" not in line, line


def catch_up(stack: Stack, app: Flask, what: str) -> None:
    """Move every process's clock past retries put off by the faults, then wait for sends."""
    moved = float(stack.clock_file.read_text()) if stack.clock_file.exists() else 0.0
    stack.move_clock(moved + RETRIES_DUE.total_seconds())
    wait_for(lambda: settled(app), what)


def restart_under_load(
    stack: Stack, url: str, load: BookingLoad, proxy: LoopbackProxy, app: Flask, base: str
) -> tuple[requests.Response, requests.Response]:
    """Backends killed three times, then the server gone for a while; the health it showed."""
    wait_for(lambda: load.count() >= 10, "bookings before any fault")
    load.phase = "terminations"
    for _ in range(TERMINATIONS):  # messages are being sent meanwhile: none may go twice
        wanted = load.count() + 8
        assert terminate_backends(url) > 0, "the processes held connections to lose"
        wait_for(lambda: load.count() >= wanted, "bookings to go on")  # noqa: B023
    load.pause()  # nothing in flight at the cut, so the outage may last as long as it likes
    catch_up(stack, app, "the worker to be idle before the outage")
    proxy.cut()
    load.phase = "outage"
    load.resume()
    wait_for(lambda: len(load.answered_in("outage")) >= 10, "refusals in the outage")
    health = (
        requests.get(f"{base}/readyz", timeout=TIMEOUT),
        requests.get(f"{base}/healthz", timeout=TIMEOUT),
    )
    proxy.restore()
    load.phase = "restored"
    wait_for(lambda: len(load.answered_in("restored")) >= 20, "bookings after it")
    return health


def assert_answers_by_phase(load: BookingLoad) -> None:
    by_phase = {
        phase: Counter(r.status for r in load.replies if r.sent == phase)
        for phase in ("steady", "terminations", "outage", "restored")
    }
    assert {r.status for r in load.answered_in("steady")} <= {201, 409}, by_phase
    assert set(by_phase["terminations"]) <= {201, 409, 503}, by_phase
    assert by_phase["terminations"][201] > 0, by_phase
    for reply in load.replies:
        if reply.status == 503:
            assert_clean_refusal(reply)
    during = load.answered_in("outage")
    assert {r.status for r in during} == {503}, "every request in the outage is refused cleanly"
    after = [r for r in load.replies if r.sent == "restored"]
    assert {r.status for r in after} <= {201, 409}, "after it, every request is served again"
    assert sum(r.status == 201 for r in after) > 0, by_phase


def assert_every_201_is_stored_once(url: str, load: BookingLoad) -> int:
    """The bookings promised are stored as promised, no slot twice; how many are stored."""
    promised = {r.body["booking"]["id"]: r.body["booking"] for r in load.replies if r.status == 201}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            stored = {
                str(b.id): b
                for b in connection.execute(select(Booking).where(Booking.status == "confirmed"))
            }
            doubled = connection.execute(
                select(Booking.supporter_id, Booking.starts_at)
                .where(Booking.status == "confirmed")
                .group_by(Booking.supporter_id, Booking.starts_at)
                .having(func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    assert promised, "some bookings were confirmed"
    assert set(promised) <= set(stored), "every booking answered 201 was committed"
    for booking_id, shown in promised.items():
        row = stored[booking_id]
        assert str(row.supporter_id) == shown["supporter"]["id"]
        assert row.starts_at == datetime.fromisoformat(shown["starts_at"])
    assert doubled == [], "no slot was booked twice"
    return len(stored)  # with those whose 201 was lost to a dropped connection after commit


@dataclass
class RestartDuringSend(RecordingChannel):
    """A chat platform that accepts each message while the database restarts."""

    database_url: str = ""

    def deliver(self, notification: Notification) -> DeliveryResult:
        terminate_backends(self.database_url)  # the worker's connections, its lock's too
        return super().deliver(notification)


def test_a_restart_during_a_send_still_records_the_message_sent_once(
    tmp_path: Path, clock: FrozenClock
) -> None:
    url = postgres_url()
    reset_postgres(url)
    chat = RestartDuringSend(database_url=url)
    app = make_app(url, tmp_path, clock, plugins=[chat.plugin()])
    world = make_world(app, app.test_client())
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    assert app.test_client().post("/api/v1/requests", json=request_body()).status_code == 201
    assert drain_until_quiet(app) == ["sent"], "recorded on a fresh connection"
    assert chat.kinds() == ["offer_made"] and drain_until_quiet(app) == []
    runtime(app).engine.dispose()
