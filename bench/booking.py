"""Bookings: 200 clients racing for 50 slots on a real server, and a booking vs one INSERT.

`python -m bench --only booking`; `python -m bench.booking_profile` shows where a booking's
time goes. A booking against a bare INSERT is measured twice: one client in-process,
booking after booking, and the throughput of a real server with 8 clients at once. Those
run on SQLite, and with the race on PostgreSQL too when PEERLINE_BENCH_DATABASE_URL is set
(its public schema is dropped and made anew); PEERLINE_BENCH_REDIS_URL puts their job
queue and rate-limit counters in Redis, as in production (the queue's keys in that
database are flushed).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, event, text

from bench.booking_world import API_PATH, BARE_PATH, Ask, Slot, World, build, settings
from bench.feeds import triple
from bench.harness import Figure, KeepAlive, cpu_seconds, median_ms
from core.clock import FrozenClock
from core.runtime import runtime
from tests.live_server import race
from tests.processes import clean_env, free_port, running, wait_until_up

PG_ENV = "PEERLINE_BENCH_DATABASE_URL"
REDIS_ENV = "PEERLINE_BENCH_REDIS_URL"  # with PostgreSQL: the queue and limits in Redis
NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
SUPPORTERS = 20
CLIENTS, SLOTS, RACE_SUPPORTERS = 200, 50, 10
SERVE = ["--workers", "2", "--threads", "16"]  # 32 connections at most: PostgreSQL's default 100
SERVED = ["--workers", "2", "--threads", "4"]  # `peerline serve`'s own defaults (core/cli.py)
SERVED_CLIENTS, BURST = 8, 100  # a burst: 100 requests from 8 keep-alive clients at once
TIMEOUT = (10, 120)  # (connect, read) seconds: 200 clients queue behind 32 threads
WARMUP, PROBES = 3, 2  # uncounted turns (bench.feeds.interleaved), then counted statements


def run(quick: bool) -> list[Figure]:
    """Uncontended on SQLite; on PostgreSQL (with Redis if given) uncontended and the race."""
    figures: list[Figure] = []
    rounds = 100 if quick else 1000
    url, redis_url = os.environ.get(PG_ENV), os.environ.get(REDIS_ENV)
    with tempfile.TemporaryDirectory(prefix="peerline-bench-booking-") as name:
        folder = Path(name)
        sqlite = f"sqlite:///{folder / 'booking.sqlite3'}"
        with uncontended(sqlite, folder, rounds) as world:
            figures.extend(throughput(world, "sqlite", rounds))
        figures.append(served(f"sqlite:///{folder / 'served.sqlite3'}", folder / "served", rounds))
        if url:
            database = "postgresql + redis" if redis_url else "postgresql"
            with uncontended(url, folder, rounds, redis_url) as world:
                figures.extend(throughput(world, database, rounds))
            figures.append(served(url, folder / "served-pg", rounds, redis_url, database))
            figures.append(contention(url, folder / "race", redis_url))
        else:
            print(f"# booking: {PG_ENV} not set: PostgreSQL figures skipped", file=sys.stderr)
    return figures


@contextmanager
def uncontended(
    database_url: str, folder: Path, rounds: int, redis_url: str | None = None
) -> Iterator[World]:
    """Enough open requests and pairwise-apart slots for every round and its warm-up."""
    asks = rounds + WARMUP + PROBES
    config = settings(database_url, folder, redis_url)
    world = build(config, FrozenClock(NOW), supporters=SUPPORTERS, asks=asks,
                  slots_each=math.ceil(asks / SUPPORTERS))  # fmt: skip
    try:
        yield world
    finally:
        runtime(world.app).engine.dispose()


def booking_body(ask: Ask, slot: Slot) -> dict[str, str]:
    return {
        "request_id": str(ask.request_id),
        "supporter_id": str(slot.supporter_id),
        "starts_at": slot.starts_at.isoformat(),
    }


def callers(world: World) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    """A booking of the next free slot, the bare INSERT and the same INSERT as an API operation."""
    turn = iter(zip(world.asks, world.slots, strict=False))
    clock = runtime(world.app).clock
    assert isinstance(clock, FrozenClock)
    headers = {"Authorization": f"Bearer {world.asks[0].token}"}

    def book() -> None:
        ask, slot = next(turn)
        clock.advance(milliseconds=1)  # each booking at its own moment, as in real use
        headers = {"Authorization": f"Bearer {ask.token}"}
        answer = world.client.post(
            "/api/v1/bookings", json=booking_body(ask, slot), headers=headers
        )
        assert answer.status_code == 201, answer.json

    def bare() -> None:
        answer = world.client.post(BARE_PATH, json={"x": 1}, headers=headers)
        assert answer.status_code == 201

    def api() -> None:
        answer = world.client.post(API_PATH, json={"x": 1}, headers=headers)
        assert answer.status_code == 201, answer.json

    return book, bare, api


def throughput(world: World, database: str, rounds: int) -> list[Figure]:
    """Median of booking a free slot vs a bare endpoint's one INSERT, taking turns.

    The same INSERT as an API operation (token, body, JSON answer) takes its turn too, for a
    reference figure: what any API write costs before its own work.
    """
    book, bare, api = callers(world)
    engine = runtime(world.app).engine
    ours, theirs, api_insert = triple(book, bare, api, rounds)
    with counted(engine) as booked:
        book()
    with counted(engine) as inserted:
        bare()
    return [
        Figure(
            f"booking a free slot ({database}) vs a bare one-INSERT endpoint, same app",
            "ms",
            median_ms(ours),
            median_ms(theirs),
            target=2.0,
            details={
                "rounds": rounds,
                "statements": dict(booked),
                "bare_statements": dict(inserted),
            },
        ),
        Figure(
            f"booking a free slot ({database}) vs one INSERT as an API operation (reference)",
            "ms",
            median_ms(ours),
            median_ms(api_insert),
            details={"rounds": rounds},
        ),
    ]


def served(
    database_url: str,
    folder: Path,
    rounds: int,
    redis_url: str | None = None,
    database: str = "sqlite",
) -> Figure:
    """Throughput on a real server: bursts of bookings and of bare INSERTs, taking turns.

    The server is `peerline serve` (gunicorn, its default 2 workers x 4 threads) with the bare
    endpoint added (bench/booking_server.py); 8 clients on keep-alive connections send each
    burst of 100 requests at once. The figure is the time per request at that rate (a burst's
    wall time over its requests), so the ratio is the bare endpoint's throughput over ours.
    """
    bursts = max(1, rounds // BURST)
    config = settings(database_url, folder, redis_url)
    asks = (bursts + 1) * BURST  # the first turn of each is a warm-up
    world = build(config, None, supporters=SUPPORTERS, asks=asks,
                  slots_each=math.ceil(asks / SUPPORTERS))  # fmt: skip
    runtime(world.app).engine.dispose()
    folder.mkdir(exist_ok=True)
    port = free_port()
    env = clean_env(folder, **{f"PEERLINE_{k.upper()}": v for k, v in config.items()})
    pairs = list(zip(world.asks, world.slots, strict=False))
    ours: list[float] = []
    theirs: list[float] = []
    answers: Counter[str] = Counter()
    cpu: dict[str, dict[str, float]] = {"booking": {}, "bare": {}}
    with running(["--port", str(port), *SERVED], env, Path.cwd(), log=folder / "serve.log",
                 module="bench.booking_server") as server:  # fmt: skip
        wait_until_up(f"http://127.0.0.1:{port}", server)
        for turn in range(bursts + 1):
            batch = pairs[turn * BURST : (turn + 1) * BURST]
            with _cpu(server.pid, cpu["booking"] if turn else {}):  # turn 0 warms up
                booked = _burst(port, [_booking_request(a, s) for a, s in batch], answers)
            with _cpu(server.pid, cpu["bare"] if turn else {}):
                bare = _burst(port, [_bare_request(ask) for ask, _ in batch], answers)
            if turn:
                ours.append(booked / BURST)
                theirs.append(bare / BURST)
    sent = 2 * (bursts + 1) * BURST  # bookings and bare INSERTs, the warm-up turn included
    assert answers == {"201": sent}, f"not every request was created: {dict(answers)} of {sent}"
    return Figure(
        f"booking throughput ({database}) vs a bare one-INSERT endpoint, real server",
        "ms",
        median_ms(ours),
        median_ms(theirs),
        target=2.0,
        details={
            "bursts": bursts,
            "burst": BURST,
            "clients": SERVED_CLIENTS,
            "serve": " ".join(SERVED),
            "answers": dict(answers),
            "cpu_ms_per_request": {  # the server is CPU-bound: where each request's CPU goes
                kind: {
                    part: round(seconds * 1000 / (bursts * BURST), 2)
                    for part, seconds in found.items()
                }
                for kind, found in cpu.items()
            },
        },
    )


@contextmanager
def _cpu(server_pid: int, into: dict[str, float]) -> Iterator[None]:
    """CPU seconds used while inside by the server's workers and, on this machine, PostgreSQL."""
    app, database = cpu_seconds(children_of=server_pid), cpu_seconds(named="postgres")
    yield
    into["app"] = into.get("app", 0.0) + cpu_seconds(children_of=server_pid) - app
    into["postgres"] = into.get("postgres", 0.0) + cpu_seconds(named="postgres") - database


Request = tuple[str, bytes, dict[str, str]]  # path, JSON body, headers
JSON = {"Content-Type": "application/json"}


def _booking_request(ask: Ask, slot: Slot) -> Request:
    body = json.dumps(booking_body(ask, slot)).encode()
    return "/api/v1/bookings", body, {"Authorization": f"Bearer {ask.token}"}


def _bare_request(ask: Ask) -> Request:
    return BARE_PATH, b'{"x": 1}', {"Authorization": f"Bearer {ask.token}"}


def _burst(port: int, requests_: list[Request], answers: Counter[str]) -> float:
    """Seconds from releasing `SERVED_CLIENTS` clients to the last answer of `requests_`."""
    work = iter(requests_)
    lock = threading.Lock()
    barrier = threading.Barrier(SERVED_CLIENTS + 1)

    def client() -> None:
        connection = KeepAlive(f"http://127.0.0.1:{port}", timeout=60)
        barrier.wait()
        try:
            while True:
                with lock:
                    taken = next(work, None)
                if taken is None:
                    return
                path, body, headers = taken
                status = connection.send("POST", path, body, JSON | headers)
                with lock:
                    answers[str(status)] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(SERVED_CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


@contextmanager
def counted(engine: Engine) -> Iterator[Counter[str]]:
    """SQL statements sent while inside, by their first word (SELECT, INSERT, …)."""
    found: Counter[str] = Counter()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found[statement.split(None, 1)[0].upper()] += 1

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def contention(database_url: str, folder: Path, redis_url: str | None) -> Figure:
    """200 clients released at once on a real `peerline serve`, four for each of 50 slots."""
    config = settings(database_url, folder, redis_url)
    world = build(config, None, supporters=RACE_SUPPORTERS, asks=CLIENTS,
                  slots_each=SLOTS // RACE_SUPPORTERS)  # fmt: skip
    runtime(world.app).engine.dispose()
    folder.mkdir(exist_ok=True)
    port = free_port()
    env = clean_env(folder, **{f"PEERLINE_{k.upper()}": v for k, v in config.items()})
    with running(["serve", "--port", str(port), *SERVE], env, Path.cwd(),
                 log=folder / "serve.log") as server:  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        started = time.perf_counter()
        replies = race(CLIENTS, _racer(base, world))
        seconds = time.perf_counter() - started
    answers = Counter("other" if s not in (201, 409) else str(s) for s in replies)
    found = _database_check(world)
    return Figure(
        f"booking under contention: {CLIENTS} clients for {SLOTS} slots, real server (postgresql)",
        "bookings",
        found["bookings"],
        target=SLOTS,
        kind="exact",
        details={
            "answers": dict(answers),
            **found,
            "seconds": round(seconds, 1),
            "serve": " ".join(SERVE),
        },
    )


def _racer(base: str, world: World) -> Callable[[int, Callable[[], object]], int]:
    def book(i: int, start: Callable[[], object]) -> int:
        ask, slot = world.asks[i], world.slots[i % SLOTS]
        headers = {"Authorization": f"Bearer {ask.token}", "Idempotency-Key": str(uuid.uuid4())}
        with requests.Session() as http:
            start()
            answer = http.post(f"{base}/api/v1/bookings", json=booking_body(ask, slot),
                               headers=headers, timeout=TIMEOUT)  # fmt: skip
            return answer.status_code

    return book


CHECKS = {
    "bookings": "SELECT count(*) FROM bookings WHERE status <> 'cancelled'",
    "overlaps": """SELECT count(*) FROM bookings a JOIN bookings b
                   ON a.supporter_id = b.supporter_id AND a.id < b.id
                   AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
                   WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'""",
    "scheduled_requests": "SELECT count(*) FROM support_requests WHERE status = 'scheduled'",
    "audit_records": "SELECT count(*) FROM audit_events WHERE action = 'booking.confirmed'",
    "deliveries": "SELECT count(*) FROM deliveries WHERE kind = 'booking_confirmed'",
}


def _database_check(world: World) -> dict[str, int]:
    """What the database holds afterwards: one booking, request, audit record, message each."""
    engine = runtime(world.app).engine
    with engine.connect() as connection:
        found = {
            name: int(connection.execute(text(sql)).scalar_one()) for name, sql in CHECKS.items()
        }
    engine.dispose()
    return found


if __name__ == "__main__":
    from bench.__main__ import main

    sys.exit(main(["--only", "booking", *sys.argv[1:]]))
