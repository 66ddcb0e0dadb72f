"""A `peerline worker` killed with SIGKILL while Slack holds its message: sent once, later.

tests/e2e/test_workers.py kills a worker inside an SMTP conversation; this is the same fault
on a chat platform's HTTP API, where the worker's own Slack client is mid-request. The
attempt was counted before the send and the delivery's lock died with the process, so the
next worker sends it; Slack never carried out the killed call, so nobody sees it twice.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from core import create_app, migrations
from core.runtime import runtime
from tests.conftest import REDIS_ENV
from tests.e2e.test_workers import ALL_DAY, Stack, deliveries, make_stack, settled, wait_for, worker
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import FakeSMTP
from tests.helpers import make_world, request_body
from tests.processes import running

TOKEN = "xoxb-worker-killed-test"
USERS = ("U0ASH", "U0BIRCH")
ONE_AT_A_TIME = ["worker", "--threads", "1", "--tick-seconds", "0.2"]
"""The killed worker has one send in flight: a second, killed after Slack took its message,
would be the ambiguous case that test_channel_faults covers (one extra copy)."""


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def slack_env(stack: Stack, slack: FakeSlack) -> dict[str, str]:
    """The worker's environment: the Slack plugin on, in one workspace, talking to the fake."""
    return {
        **stack.env(),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": "signing-secret-of-the-faults-tests",
        "SLACK_API_URL": slack.url,
    }


def seeded(stack: Stack) -> Flask:
    app = create_app(dict(stack.settings), plugins=None)
    migrations.upgrade(runtime(app).engine)
    jobs = runtime(app).jobs
    assert jobs is not None
    jobs.huey.flush()  # a queue shared with earlier runs starts empty
    world = make_world(app, app.test_client())
    for number, user in enumerate(USERS):
        contacts = [{"platform": "slack", "address": user}]
        world.add_supporter(f"Supporter {number}", weekly=ALL_DAY, contacts=contacts)
    for _ in range(2):
        made = app.test_client().post("/api/v1/requests", json=request_body())
        assert made.status_code == 201, made.json
    return app


def test_a_worker_killed_during_a_slack_send_posts_every_offer_once(
    tmp_path: Path, database_url: str, smtp: FakeSMTP, slack: FakeSlack
) -> None:
    use_redis = database_url.startswith("postgresql") and bool(os.environ.get(REDIS_ENV))
    stack = make_stack(tmp_path, database_url, smtp, redis=use_redis)
    app = seeded(stack)
    slack.stall("chat.postMessage")  # the first post hangs inside Slack, not yet carried out
    log = tmp_path / "worker.log"
    with running(ONE_AT_A_TIME, slack_env(stack, slack), tmp_path, log=log) as first:
        wait_for(slack.stalled.is_set, "the worker to be mid-post")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    slack.release()
    with running(worker(), slack_env(stack, slack), tmp_path, log=log):
        wait_for(lambda: settled(app), "every offer to be posted")
    rows = deliveries(app)
    assert len(rows) == 4 and {(r.kind, r.status, r.channel) for r in rows} == {
        ("offer_made", "sent", "slack")
    }
    posted = [json.dumps(m) for user in USERS for m in slack.messages_to(user)]
    for row in rows:
        offer_id = row.dedupe_key.split(":", 1)[1]
        assert sum(offer_id in m for m in posted) == 1, "each offer posted exactly once"
    assert len(slack.calls("chat.postMessage")) == 5, "four posts and the one killed mid-way"
    assert sorted(r.attempts for r in rows) == [1, 1, 1, 2], "the killed attempt was counted"
    runtime(app).engine.dispose()
