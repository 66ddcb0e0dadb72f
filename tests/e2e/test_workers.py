"""`peerline worker` as real processes: killed mid-send, and two apps with two workers.

Mail goes to a real SMTP server on loopback; the clock of every process is moved
through PEERLINE_TEST_CLOCK_FILE, never waited for.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select

from core import create_app, migrations
from core.channels.email_messages import message_id
from core.models import Delivery
from core.runtime import runtime
from tests.conftest import REDIS_ENV
from tests.fakes.smtp import FakeSMTP, fake_smtp_servers
from tests.helpers import make_world, request_body, system_ctx
from tests.processes import clean_env, free_port, running, slots_ahead, wait_until_up

SETTLE_SECONDS = 60  # an upper bound on start-up and sending, polled, never slept through
ALL_DAY = [
    {"weekday": d, "start": "00:00", "end": "24:00"}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]
SENDER = "PeerLine <peerline@acme.test>"


@dataclass
class Stack:
    """Settings shared by the test's own app and every process it starts."""

    settings: dict[str, str]
    tmp_path: Path

    @property
    def clock_file(self) -> Path:
        return Path(self.settings["test_clock_file"])

    def env(self) -> dict[str, str]:
        values = {f"PEERLINE_{k.upper()}": v for k, v in self.settings.items()}
        return clean_env(self.tmp_path, **values)

    def move_clock(self, seconds: float) -> None:
        self.clock_file.write_text(str(seconds))


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with fake_smtp_servers() as start:
        yield start()


def make_stack(tmp_path: Path, database_url: str, smtp: FakeSMTP, redis: bool) -> Stack:
    settings = {
        "env": "testing",
        "database_url": database_url,
        "instance_path": str(tmp_path / "instance"),
        "secret_key": "k" * 40,
        "encryption_keys": Fernet.generate_key().decode(),
        "smtp_url": smtp.url(),
        "smtp_from": SENDER,
        "test_clock_file": str(tmp_path / "clock-offset"),
    }
    if redis:
        settings["redis_url"] = os.environ[REDIS_ENV]
    return Stack(settings, tmp_path)


def seeded_app(stack: Stack, supporters: int) -> Flask:
    app = create_app(dict(stack.settings), plugins=None)
    migrations.upgrade(runtime(app).engine)
    jobs = runtime(app).jobs
    assert jobs is not None
    jobs.huey.flush()  # a queue shared with earlier runs starts empty
    world = make_world(app, app.test_client(), policy={"reminder_minutes": [60]})
    for number in range(supporters):
        world.add_supporter(
            f"Supporter {number}",
            weekly=ALL_DAY,
            contacts=[{"platform": "email", "address": f"s{number}@acme.test"}],
        )
    return app


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll real processes until `condition` holds (their progress, not the product's clock)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def deliveries(app: Flask) -> list[Delivery]:
    with system_ctx(app).session as session:
        return list(session.scalars(select(Delivery)))


def settled(app: Flask) -> bool:
    rows = deliveries(app)
    return bool(rows) and all(r.status != "pending" for r in rows)


def assert_each_sent_exactly_once(app: Flask, smtp: FakeSMTP) -> Counter[str]:
    rows = [r for r in deliveries(app) if r.status != "skipped"]  # card updates e-mail skips
    assert [(r.kind, r.status, r.last_error) for r in rows if r.status != "sent"] == []
    received = Counter(str(m.message["Message-ID"]) for m in smtp.received)
    expected = {message_id(r.dedupe_key, SENDER): r.kind for r in rows}
    assert set(received) == set(expected), "every decided message arrived, nothing else"
    assert max(received.values()) == 1, "no message arrived twice"
    return Counter(expected.values())


def worker() -> list[str]:
    return ["worker", "--threads", "2", "--tick-seconds", "0.2"]


def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    tmp_path, database_url, smtp
):
    use_redis = database_url.startswith("postgresql") and bool(os.environ.get(REDIS_ENV))
    stack = make_stack(tmp_path, database_url, smtp, redis=use_redis)
    app = seeded_app(stack, supporters=3)
    client = app.test_client()
    for _ in range(2):
        made = client.post("/api/v1/requests", json=request_body())
        assert made.status_code == 201, made.json
    smtp.stall = True  # the first message is held inside the SMTP conversation
    with running(worker(), stack.env(), tmp_path, log=tmp_path / "worker.log") as first:
        wait_for(smtp.stalled.is_set, "the worker to be mid-send")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    smtp.stall = False
    smtp.release()
    assert smtp.received == [], "the killed send never completed"
    with running(worker(), stack.env(), tmp_path, log=tmp_path / "worker.log"):
        wait_for(lambda: settled(app), "every delivery to be sent")
    kinds = assert_each_sent_exactly_once(app, smtp)
    assert kinds == {"offer_made": 6}
    runtime(app).engine.dispose()


@dataclass
class Cluster:
    apps: list[str]
    stack: Stack


@pytest.fixture
def cluster(tmp_path, smtp) -> Iterator[tuple[Cluster, Flask]]:
    if not os.environ.get(REDIS_ENV):
        pytest.skip(f"{REDIS_ENV} not set: several workers need Redis")
    from tests.conftest import postgres_url, reset_postgres

    url = postgres_url()
    reset_postgres(url)
    stack = make_stack(tmp_path, url, smtp, redis=True)
    app = seeded_app(stack, supporters=4)
    ports = [free_port(), free_port()]
    serve = [["serve", "--port", str(p), "--workers", "1", "--threads", "4"] for p in ports]
    with (
        running(serve[0], stack.env(), tmp_path, log=tmp_path / "app-a.log") as app_a,
        running(serve[1], stack.env(), tmp_path, log=tmp_path / "app-b.log") as app_b,
        running(worker(), stack.env(), tmp_path, log=tmp_path / "worker.log"),
        running(worker(), stack.env(), tmp_path, log=tmp_path / "worker.log"),
    ):
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base, process in zip(bases, (app_a, app_b), strict=True):
            wait_until_up(base, process)
        yield Cluster(bases, stack), app
    runtime(app).engine.dispose()


def first_slots(base: str, count: int) -> list[dict]:
    """`count` slots at one start time (different supporters), at least 5 hours away."""
    found = slots_ahead(base, days=1)
    by_time: dict[str, list[dict]] = {}
    for slot in found:
        by_time.setdefault(slot["starts_at"], []).append(slot)
    return next(group[:count] for group in by_time.values() if len(group) >= count)


@pytest.mark.postgres
@pytest.mark.redis
def test_two_apps_and_two_workers_send_each_offer_and_reminder_once(cluster, smtp):
    nodes, app = cluster
    for number in range(6):
        base = nodes.apps[number % 2]
        made = requests.post(f"{base}/api/v1/requests", json=request_body(), timeout=10)
        assert made.status_code == 201, made.text
    slots = first_slots(nodes.apps[0], 3)
    for number, slot in enumerate(slots):
        body = request_body(
            urgency="scheduled",
            mode="video",
            email=f"student{number}@school.test",
            slot={"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]},
        )
        made = requests.post(f"{nodes.apps[number % 2]}/api/v1/requests", json=body, timeout=10)
        assert made.status_code == 201, made.text
    wait_for(lambda: settled(app), "offers and confirmations to be sent")
    starts = datetime.fromisoformat(slots[0]["starts_at"])
    nodes.stack.move_clock((starts - timedelta(minutes=30) - datetime.now(UTC)).total_seconds())
    wait_for(
        lambda: sum(r.kind == "booking_reminder" for r in deliveries(app)) == 6 and settled(app),
        "reminders to be decided and sent",
    )
    kinds = assert_each_sent_exactly_once(app, smtp)
    offers = kinds["offer_made"]
    assert offers >= 6 and kinds["booking_confirmed"] == 6 and kinds["booking_reminder"] == 6
    reminded = sorted(m.message["To"] for m in smtp.received if "Reminder" in m.message["Subject"])
    assert len(reminded) == 6 and len(set(reminded)) == 6, "each side of each booking, once"
    for log in ("app-a.log", "app-b.log", "worker.log"):
        written = (nodes.stack.tmp_path / log).read_text()
        assert "school.test" not in written and "acme.test" not in written, log
