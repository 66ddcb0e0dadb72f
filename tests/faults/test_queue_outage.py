"""Redis, the job queue, crashing under a running app and worker: nothing asked for is lost.

The queue only says "look at delivery X now"; the database outbox is the record of what must
be sent. So a crash that takes queued and scheduled jobs with it costs a delay, never a
message: the workers' tick finds every delivery that is overdue and still pending.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from core.jobs import STRANDED_AFTER
from core.runtime import runtime
from tests.e2e.test_workers import (
    Stack,
    assert_each_sent_exactly_once,
    deliveries,
    make_stack,
    seeded_app,
    settled,
    wait_for,
    worker,
)
from tests.fakes.smtp import FakeSMTP
from tests.faults.servers import PrivateRedis, private_redis
from tests.helpers import request_body
from tests.processes import free_port, running, wait_until_up

QUEUE_SECONDS = 20.0
"""Well under STRANDED_AFTER: a message sent this soon went through the queue, not the tick."""


@pytest.fixture
def stack(
    tmp_path: Path, database_url: str, smtp: FakeSMTP
) -> Iterator[tuple[Stack, PrivateRedis]]:
    """The usual process stack, its queue on a redis-server of this test's own."""
    with private_redis(tmp_path / "redis") as redis:
        built = make_stack(tmp_path, database_url, smtp, redis=False)
        built.settings["redis_url"] = redis.url()
        yield built, redis


def within(seconds: float, condition: Callable[[], bool], what: str) -> None:
    """Poll real processes, with a tighter deadline than wait_for's."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds}s: {what}")


def ask(base: str) -> None:
    made = requests.post(f"{base}/api/v1/requests", json=request_body(), timeout=10)
    assert made.status_code == 201, made.text


def ready(base: str) -> dict[str, str]:
    answer = requests.get(f"{base}/readyz", timeout=10)
    assert answer.status_code == 200, "the queue alone never makes the app unready"
    body: dict[str, str] = answer.json()
    return body


def put_off(app: Flask) -> bool:
    """Every delivery so far failed once and waits for its retry."""
    rows = deliveries(app)
    return bool(rows) and all(r.status == "pending" and r.last_error for r in rows)


def sent_since(app: Flask, before: set[uuid.UUID]) -> int:
    return sum(r.status == "sent" for r in deliveries(app) if r.id not in before)


def test_a_redis_crash_loses_no_job_and_the_worker_resumes_on_its_own(
    stack: tuple[Stack, PrivateRedis], smtp: FakeSMTP, tmp_path: Path
) -> None:
    nodes, redis = stack
    app = seeded_app(nodes, supporters=2)
    port, base = free_port(), ""
    serve = ["serve", "--port", str(port), "--workers", "1", "--threads", "4"]
    with (
        running(serve, nodes.env(), tmp_path, log=tmp_path / "serve.log") as server,
        running(worker(), nodes.env(), tmp_path, log=tmp_path / "worker.log") as consumer,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        assert ready(base) == {"status": "ready", "database": "ok", "queue": "ok"}

        smtp.rcpt_reply = "451 4.3.0 try again later"  # first request: its retries wait in Redis
        ask(base)
        wait_for(lambda: put_off(app), "the first offers to be tried and put off")
        smtp.rcpt_reply = None
        redis.stop()  # the scheduled retries die with it

        ask(base)  # accepted while the queue is down: kept in the outbox
        assert ready(base) == {"status": "degraded", "database": "ok", "queue": "unreachable"}
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200

        redis.start()  # empty: nothing of what was queued before survived
        within(QUEUE_SECONDS, lambda: ready(base)["status"] == "ready", "the app to see Redis")
        before = {r.id for r in deliveries(app)}
        ask(base)
        within(QUEUE_SECONDS, lambda: sent_since(app, before) == 2, "sends through the queue")
        assert consumer.poll() is None, "the same worker resumed"

        lost = [r for r in deliveries(app) if r.status == "pending"]
        assert len(lost) == 4, "the put-off and the never-queued offers wait in the outbox"
        nodes.move_clock((STRANDED_AFTER * 4).total_seconds())  # past every retry time
        wait_for(lambda: settled(app), "the tick to find what the crash lost")
        assert server.poll() is None
    assert assert_each_sent_exactly_once(app, smtp) == {"offer_made": 6}
    runtime(app).engine.dispose()
