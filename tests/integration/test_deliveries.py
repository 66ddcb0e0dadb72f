"""Durable deliveries: decided with the change that caused them, sent once, retried, dead."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from core.jobs import QueueStorage
from core.models import Delivery, Program
from core.notify import deliveries
from core.notify.outbox import stage
from core.ports import DeliveryResult, Notification
from core.runtime import runtime
from tests.conftest import make_app
from tests.fakes.channel import RecordingChannel
from tests.helpers import EVERY_WEEKDAY, make_world, request_body, system_ctx


@pytest.fixture
def chat() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def app(database_url, tmp_path, clock, chat):
    application = make_app(
        database_url, tmp_path, clock, plugins=[chat.plugin()], delivery_max_attempts=3
    )
    yield application
    runtime(application).engine.dispose()


def drain(app) -> list[str]:
    """What a worker does with everything due now."""
    current = runtime(app)
    return [deliveries.attempt(current, d).status for d in deliveries.due(current)]


def rows(app, **where) -> list[Delivery]:
    with system_ctx(app).session as session:
        query = select(Delivery).filter_by(**where).order_by(Delivery.created_at, Delivery.kind)
        return list(session.scalars(query))


def ask_now(world, **fields):
    body = request_body(requester={"platform": "slack", "subject": "U-ASKER"}, **fields)
    response = world.client.post(
        "/api/v1/requests", json=body, headers={"Authorization": f"Bearer {world.service}"}
    )
    assert response.status_code == 201, response.json
    return response.json


def world_with(app, client, *aliases, **program):
    world = make_world(app, client, **program)
    for alias in aliases:
        world.add_supporter(alias, weekly=EVERY_WEEKDAY)
    return world


def test_offers_are_decided_in_the_same_commit_and_sent_once(app, client, chat):
    world = world_with(app, client, "Ash", "Birch", policy={"offer_batch_size": 2})
    request = ask_now(world, note="a private note")
    decided = rows(app, kind="offer_made")
    assert len(decided) == 2 and all(d.status == "pending" for d in decided)
    assert drain(app) == ["sent", "sent"]
    assert drain(app) == [], "nothing is sent twice"
    assert sorted(n.data["request_alias"] for n in chat.sent) == [request["alias"]] * 2
    assert all("a private note" not in str(n.data) for n in chat.sent)
    assert {n.supporter_id for n in chat.sent} == {d.supporter_id for d in decided}, (
        "each offered supporter is told once"
    )


def test_a_failed_request_leaves_no_delivery_behind(app, client):
    world = world_with(app, client, "Ash")
    response = client.post("/api/v1/requests", json=request_body(topic="not-offered"), headers={})
    assert response.status_code == 422
    assert rows(app) == []
    assert world.supporters


def test_a_retry_waits_with_backoff_then_succeeds(app, client, chat, clock):
    world_with(app, client, "Ash")
    chat.script.append(DeliveryResult(delivered=False, detail="HTTP 503"))
    client.post("/api/v1/requests", json=request_body())
    assert drain(app) == ["retry"]
    [row] = rows(app, kind="offer_made")
    assert row.attempts == 1 and row.last_error == "HTTP 503"
    wait = row.next_attempt_at - clock.now()
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=30)
    assert drain(app) == [], "not before its time"
    clock.advance(seconds=wait.total_seconds())
    assert drain(app) == ["sent"]
    assert rows(app, kind="offer_made")[0].status == "sent"


def test_retry_after_from_the_channel_is_obeyed(app, client, chat, clock):
    world_with(app, client, "Ash")
    chat.script.append(DeliveryResult(delivered=False, retry_after_seconds=120, detail="429"))
    client.post("/api/v1/requests", json=request_body())
    drain(app)
    [row] = rows(app, kind="offer_made")
    assert row.next_attempt_at - clock.now() == timedelta(seconds=120)
    clock.advance(seconds=119)
    assert drain(app) == []
    clock.advance(seconds=1)
    assert drain(app) == ["sent"]


def test_dead_letter_after_the_attempt_limit(app, client, chat, clock, caplog):
    world_with(app, client, "Ash")
    chat.default = DeliveryResult(delivered=False, detail="HTTP 500")
    client.post("/api/v1/requests", json=request_body())
    outcomes = []
    for _ in range(3):
        outcomes += drain(app)
        clock.advance(hours=2)
    assert outcomes == ["retry", "retry", "dead"]
    [row] = rows(app, kind="offer_made")
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, "HTTP 500")
    assert "dead after 3 attempts" in caplog.text


def test_permanent_failure_is_dead_at_once(app, client, chat):
    world_with(app, client, "Ash")
    chat.script.append(DeliveryResult(delivered=False, permanent=True, detail="user not found"))
    client.post("/api/v1/requests", json=request_body())
    assert drain(app) == ["dead"]


def test_a_channel_that_raises_is_retried_and_logged(app, client, chat, caplog):
    world_with(app, client, "Ash")
    chat.script.append(RuntimeError("boom"))
    client.post("/api/v1/requests", json=request_body())
    with caplog.at_level(logging.ERROR):
        assert drain(app) == ["retry"]
    assert "raised while delivering offer_made" in caplog.text
    assert rows(app, kind="offer_made")[0].last_error == "channel raised RuntimeError"


def test_nobody_reachable_is_a_dead_letter_not_silence(app, client, chat):
    world_with(app, client, "Ash")
    chat.reaches = lambda _n: False
    client.post("/api/v1/requests", json=request_body())
    assert drain(app) == ["dead"]
    assert rows(app)[0].last_error == "no channel reaches this recipient"


def raising_once(error: Exception):
    """A channel's answer to 'do you reach them?': `error` the first time, yes after."""
    errors = iter([error])

    def reaches(_note) -> bool:
        raised = next(errors, None)
        if raised is not None:
            raise raised
        return True

    return reaches


def test_a_channel_that_cannot_say_whether_it_reaches_is_retried_not_dead(
    app, client, chat, clock, caplog
):
    world_with(app, client, "Ash")
    chat.reaches = raising_once(RuntimeError("lookup failed"))
    client.post("/api/v1/requests", json=request_body())
    with caplog.at_level(logging.ERROR):
        assert drain(app) == ["retry"], "not taken for 'nobody reaches them'"
    [row] = rows(app, kind="offer_made")
    assert row.status == "pending" and "could not say whether it reaches" in row.last_error
    clock.advance(minutes=5)
    assert drain(app) == ["sent"] and chat.kinds() == ["offer_made"]


def test_a_channel_that_cannot_say_is_passed_over_for_one_that_reaches_them(
    database_url, tmp_path, clock
):
    broken = RecordingChannel(name="broken", reaches=raising_once(RuntimeError("lookup failed")))
    other = RecordingChannel(name="other")
    app = make_app(database_url, tmp_path, clock, plugins=[broken.plugin(), other.plugin()])
    world_with(app, app.test_client(), "Ash")
    app.test_client().post("/api/v1/requests", json=request_body())
    assert drain(app) == ["sent"]
    assert other.kinds() == ["offer_made"] and broken.sent == []
    assert rows(app, kind="offer_made")[0].channel == "other"
    runtime(app).engine.dispose()


def test_a_database_lost_while_choosing_a_channel_queues_the_job_again(app, client, chat, clock):
    world_with(app, client, "Ash")
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    chat.reaches = raising_once(lost)
    client.post("/api/v1/requests", json=request_body())
    [row] = rows(app, kind="offer_made")
    jobs = runtime(app).jobs
    assert jobs is not None
    queued: list[str] = []
    jobs.enqueue = lambda delivery_id, at=None: queued.append(delivery_id)
    assert jobs.deliver(str(row.id)) == "database unavailable"
    assert queued == [str(row.id)] and rows(app, kind="offer_made")[0].status == "pending"
    clock.advance(minutes=5)
    assert drain(app) == ["sent"] and chat.kinds() == ["offer_made"]


def test_optional_card_updates_are_skipped_when_unreachable(app, client, chat):
    world = world_with(app, client, "Ash", "Birch", policy={"offer_batch_size": 2})
    ask_now(world)
    drain(app)
    chat.reaches = lambda n: n.kind != "offer_taken"
    token = world.supporter_token("Ash")
    headers = {"Authorization": f"Bearer {token}"}
    [offer] = client.get("/api/v1/offers?program=acme&status=pending", headers=headers).json
    accepted = client.post(f"/api/v1/offers/{offer['id']}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.json
    assert sorted(drain(app)) == ["sent", "skipped"]
    assert chat.kinds("requester") == ["matched"]


def test_requesters_without_an_identity_get_no_deliveries(app, client, chat):
    world_with(app, client, "Ash")
    client.post("/api/v1/requests", json=request_body())
    drain(app)
    assert chat.kinds("requester") == [] and chat.kinds("supporter") == ["offer_made"]


@pytest.mark.postgres
def test_two_workers_racing_for_one_delivery_send_it_once(app, client, chat, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite runs one worker")
    world_with(app, client, "Ash")
    client.post("/api/v1/requests", json=request_body())
    [delivery_id] = deliveries.due(runtime(app))
    gate = threading.Barrier(8)
    results: list[str] = []

    def worker() -> None:
        gate.wait()
        results.append(deliveries.attempt(runtime(app), delivery_id).status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("sent") == 1 and len(chat.sent) == 1
    with system_ctx(app).session as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_admins_see_the_dead_letter_count_and_can_retry(app, client, chat):
    world = world_with(app, client, "Ash")
    chat.script.append(DeliveryResult(delivered=False, permanent=True, detail="HTTP 404"))
    ask_now(world, note="private words")
    drain(app)
    admin = {"Authorization": f"Bearer {world.admin}"}
    summary = client.get("/api/v1/deliveries/summary?program=acme", headers=admin)
    assert summary.status_code == 200 and summary.json["dead"] == 1
    [letter] = client.get("/api/v1/deliveries/dead?program=acme", headers=admin).json
    assert (letter["kind"], letter["supporter_alias"], letter["last_error"]) == (
        "offer_made",
        "Ash",
        "HTTP 404",
    )
    assert "request_id" not in letter and "data" not in letter, "no per-request data for admins"
    supporter = {"Authorization": f"Bearer {world.supporter_token('Ash')}"}
    assert client.get("/api/v1/deliveries/dead?program=acme", headers=supporter).status_code == 403
    retried = client.post(f"/api/v1/deliveries/{letter['id']}/retry", headers=admin)
    assert retried.status_code == 204, retried.json
    assert drain(app) == ["sent"]
    again = client.post(f"/api/v1/deliveries/{letter['id']}/retry", headers=admin)
    assert again.status_code == 409 and "sent" in again.json["error"]["message"]
    assert client.get("/api/v1/deliveries/summary?program=acme", headers=admin).json["dead"] == 0


def metric_values(client, headers=None) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.data
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
    }


def test_metrics_show_outcomes_dead_letters_and_time_to_accept(app, client, chat, clock):
    world = world_with(app, client, "Ash", "Birch", policy={"offer_batch_size": 1})
    chat.script.append(DeliveryResult(delivered=False, permanent=True, detail="gone"))
    ask_now(world)
    drain(app)
    ask_now(world)
    drain(app)
    clock.advance(seconds=90)
    for alias in ("Ash", "Birch"):
        headers = {"Authorization": f"Bearer {world.supporter_token(alias)}"}
        for offer in client.get("/api/v1/offers?program=acme&status=pending", headers=headers).json:
            client.post(f"/api/v1/offers/{offer['id']}/accept", headers=headers)
    values = metric_values(client)
    assert values[("peerline_dead_letters", ())] == 1
    assert values[("peerline_deliveries_total", (("channel", "chat"), ("outcome", "sent")))] == 1
    assert values[("peerline_deliveries_pending", ())] == 2, "the two 'matched' messages wait"
    assert values[("peerline_offer_time_to_accept_seconds_bucket", (("le", "60.0"),))] == 0
    assert values[("peerline_offer_time_to_accept_seconds_bucket", (("le", "120.0"),))] == 2
    assert values[("peerline_offer_time_to_accept_seconds_count", ())] == 2
    assert values[("peerline_job_queue_depth", ())] >= 0


def test_metrics_can_require_a_token(database_url, tmp_path, clock):
    app = make_app(database_url, tmp_path, clock, metrics_token="m" * 32)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert metric_values(client, {"Authorization": f"Bearer {'m' * 32}"})
    runtime(app).engine.dispose()


def test_a_plugin_queues_its_own_message_durably_and_once(app, client, chat):
    from core.ports import Notification
    from core.services import outbound

    world = world_with(app, client, "Ash")
    supporter_id = uuid.UUID(world.supporters["Ash"]["id"])
    ctx = system_ctx(app)
    with ctx.session:
        program_id = _program_id(ctx)
        relay = Notification(
            dedupe_key="relay:chat-1:line-1",
            program_id=program_id,
            audience="supporter",
            kind="relay_line",
            supporter_id=supporter_id,
            data={"text": "hello"},
        )
        assert len(outbound.queue(ctx, [relay, relay])) == 1, "one key, one message"
        ctx.session.rollback()
    assert rows(app, kind="relay_line") == [], "nothing is queued unless the caller commits"
    with ctx.session:
        outbound.queue(ctx, [relay])
        ctx.session.commit()
    assert drain(app) == ["sent"] and chat.kinds() == ["relay_line"]


def _program_id(ctx):
    from core.models import Program

    return ctx.session.scalars(select(Program.id)).one()


def test_with_the_queue_down_the_app_answers_and_the_tick_sends(
    database_url, tmp_path, clock, chat, caplog
):
    from tests.fakes.smtp import closed_port

    app = make_app(
        database_url,
        tmp_path,
        clock,
        plugins=[chat.plugin()],
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
    )
    client = app.test_client()
    world_with(app, client, "Ash")
    made = client.post("/api/v1/requests", json=request_body())
    assert made.status_code == 201, "a queue outage never fails a request"
    assert "could not hand 1 deliveries to the job queue" in caplog.text
    jobs = runtime(app).jobs
    assert jobs is not None
    assert jobs.tick()["deliveries stranded"] == 0, "not stranded yet: its job may be on its way"
    clock.advance(seconds=30)
    assert jobs.tick()["deliveries stranded"] == 1
    assert chat.kinds() == ["offer_made"], "sent directly, since the queue is unreachable"
    runtime(app).engine.dispose()


def test_a_chat_line_is_forgotten_once_sent(app, client, chat):
    from core.ports import FORGET_AFTER_SENDING, Notification
    from core.services import outbound

    world_with(app, client, "Ash")
    ctx = system_ctx(app)
    with ctx.session:
        line = Notification(
            dedupe_key="relay_line:chat-1:1",
            program_id=_program_id(ctx),
            audience="supporter",
            kind="relay_line",
            supporter_id=uuid.uuid4(),
            data={"text": "words only the supporter should read", FORGET_AFTER_SENDING: True},
        )
        outbound.queue(ctx, [line])
        ctx.session.commit()
    assert drain(app) == ["sent"]
    assert chat.sent[0].data["text"] == "words only the supporter should read"
    [row] = rows(app, kind="relay_line")
    assert "words" not in str(row.data), "the stored snapshot no longer holds the words"


def test_messages_sharing_an_order_key_are_sent_in_order(app, client, chat, clock):
    from core.ports import Notification
    from core.services import outbound

    world_with(app, client, "Ash")
    chat.script.append(DeliveryResult(delivered=False, retry_after_seconds=60, detail="429"))
    ctx = system_ctx(app)
    for number in (1, 2, 3):
        with ctx.session:
            line = Notification(
                dedupe_key=f"relay_line:chat-9:{number}",
                program_id=_program_id(ctx),
                audience="supporter",
                kind="relay_line",
                supporter_id=uuid.uuid4(),
                data={"text": f"line {number}"},
                order_key="relay:chat-9:supporter",
            )
            outbound.queue(ctx, [line])
            ctx.session.commit()
        clock.advance(seconds=1)
    assert sorted(drain(app)) == ["retry", "retry", "retry"], "line 1 failed; 2 and 3 wait"
    assert chat.sent == []
    clock.advance(seconds=61)
    for _ in range(4):
        drain(app)
        clock.advance(seconds=2)
    assert [n.data["text"] for n in chat.sent] == ["line 1", "line 2", "line 3"]


def test_staging_many_at_once_keeps_their_order_and_inserts_each_key_once(app, client, clock):
    world_with(app, client)
    ctx = system_ctx(app)
    with ctx.session:
        program_id = ctx.session.scalars(select(Program.id)).one()

        def note(key: str, order_key: str | None = None) -> Notification:
            return Notification(
                dedupe_key=key,
                program_id=program_id,
                audience="supporter",
                kind="relay_line",
                order_key=order_key,
            )

        notes = [note("a"), note("b"), note("a"), note("c1", "k"), note("d"), note("c2", "k")]
        added = stage(ctx.session, notes, clock.now())
        ctx.session.commit()
        again = stage(ctx.session, [note("b"), note("e"), note("d")], clock.now())
        ctx.session.commit()
    by_key = {d.dedupe_key: d for d in rows(app)}
    assert added == [by_key[k].id for k in ("a", "b", "c1", "d", "c2")]
    assert again == [by_key["e"].id]  # decided twice = once
    assert by_key["c2"].created_at > by_key["c1"].created_at  # in order within "k"


def test_a_job_the_sqlite_queue_lost_is_queued_again_by_the_tick(app, client, clock, chat):
    """The embedded queue commits without waiting for the disk, so a power cut can drop its
    last jobs: the deliveries table is the record, and the tick queues them again."""
    jobs = runtime(app).jobs
    assert jobs is not None
    storage = jobs.huey.storage
    if not isinstance(storage, QueueStorage):
        pytest.skip("the queue is Redis here")
    assert storage.sql("PRAGMA synchronous", results=True) == [(1,)]  # NORMAL, in WAL
    world_with(app, client, "Ash")
    drain(app)  # what setting up the program sent
    jobs.huey.flush()
    assert client.post("/api/v1/requests", json=request_body()).status_code == 201

    def messages_queued() -> list[str]:
        return [task.args[0] for task in jobs.huey.pending() if task.name == "peerline.deliver"]

    queued = messages_queued()
    assert len(queued) == 1
    jobs.huey.flush()  # lost, as the last commits of a power cut may be
    clock.advance(seconds=30)
    assert jobs.tick()["deliveries stranded"] == 1
    assert messages_queued() == queued, "queued again"
    while (task := jobs.huey.dequeue()) is not None:
        jobs.huey.execute(task)
    assert "offer_made" in chat.kinds()
    assert drain(app) == [], "every one of them was sent"
