"""Calendar feeds: writing 1,000 sessions against icalendar, and the 304 of an unchanged feed.

`python -m bench --only feeds`; `python -m bench.feeds --profile` shows where a poll's time
goes (pyinstrument). Figures run on SQLite, and again on PostgreSQL when
PEERLINE_BENCH_DATABASE_URL is set (its public schema is dropped and made anew).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import icalendar

from bench.feeds_world import World, build, icalendar_feed, ics_feed
from bench.harness import Figure, median_ms
from core.runtime import runtime
from lms.feeds import content

SESSIONS = 1000
PG_ENV = "PEERLINE_BENCH_DATABASE_URL"


def run(quick: bool) -> list[Figure]:
    """Generation once (it needs no database), then the HTTP figures per database."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="peerline-bench-feeds-") as folder:
        with built(f"sqlite:///{Path(folder) / 'feeds.sqlite3'}", Path(folder)) as world:
            figures += generation(world, rounds=5 if quick else 40)
            figures += http(world, "sqlite", quick)
        url = os.environ.get(PG_ENV)
        if url:
            with built(url, Path(folder)) as world:
                figures += http(world, "postgresql", quick)
        else:
            print(f"# feeds: {PG_ENV} not set: PostgreSQL figures skipped", file=sys.stderr)
    return figures


@contextmanager
def built(database_url: str, folder: Path) -> Iterator[World]:
    """A world whose connections are closed afterwards (PostgreSQL keeps none open)."""
    world = build(database_url, folder, SESSIONS)
    try:
        yield world
    finally:
        runtime(world.app).engine.dispose()


def same_events(*calendars: bytes) -> None:
    """Every writer measured wrote the same events: compared once, outside the timing."""
    seen = [
        sorted((str(e["UID"]), e.decoded("DTSTART"), str(e["SUMMARY"])) for e in events)
        for events in (icalendar.Calendar.from_ical(raw).walk("VEVENT") for raw in calendars)
    ]
    assert len(seen[0]) == SESSIONS and all(found == seen[0] for found in seen), "unlike feeds"


def generation(world: World, rounds: int) -> list[Figure]:
    """Our writer turning the sessions into ICS text vs icalendar building and serialising them.

    Both start from the same plain data (the sessions as the feed reads them) and build their
    objects inside the timed part. The same feed through the ics package is information: it
    says what writing the feed's lines by hand (lms/calendar.py) saves.
    """
    sessions = world.sessions
    same_events(content.calendar(sessions, for_supporter=True), icalendar_feed(sessions),
                ics_feed(sessions))  # fmt: skip
    ours, theirs, through_ics = triple(
        lambda: content.calendar(sessions, for_supporter=True),
        lambda: icalendar_feed(sessions),
        lambda: ics_feed(sessions),
        rounds,
    )
    size = len(content.calendar(sessions, for_supporter=True))
    name = f"feed generation, {len(sessions)} sessions"
    return [
        Figure(f"{name} (vs icalendar to_ical)", "ms", median_ms(ours), median_ms(theirs),
               target=1.0, details={"rounds": rounds, "bytes": size}),
        Figure(f"{name} through ics 0.7.2 (vs icalendar to_ical)", "ms", median_ms(through_ics),
               median_ms(theirs), kind="info", details={"rounds": rounds}),
    ]  # fmt: skip


def http(world: World, database: str, quick: bool) -> list[Figure]:
    """A full 200 (information) and a 304 poll (target) through the WSGI app, vs bare endpoints."""
    client = world.client
    watch = runtime(world.app).calendar_watch
    if watch is not None:  # PostgreSQL: polls are answered from memory once it listens
        assert watch.caught_up(), "the calendar watch listens"
    full = client.get(world.feed_path)
    assert full.status_code == 200 and full.data.count(b"BEGIN:VEVENT") == SESSIONS
    tag = full.headers["ETag"]
    assert client.get(world.feed_path, headers={"If-None-Match": tag}).status_code == 304
    assert client.get(world.bare_path, headers={"If-None-Match": "x"}).status_code == 200

    def poll(path: str, match: str) -> Callable[[], object]:
        def call() -> None:
            response = client.get(path, headers={"If-None-Match": match})
            response.close()

        return call

    rounds = 5 if quick else 30
    ours, theirs = paired(poll(world.feed_path, '"stale"'), poll(world.bare_path, "x"), rounds)
    body = Figure(
        f"feed 200, {SESSIONS} sessions, through the app ({database}) vs icalendar + bare Flask",
        "ms",
        median_ms(ours),
        median_ms(theirs),
        kind="info",
        details={"rounds": rounds, "bytes": len(full.data)},
    )
    rounds = 300 if quick else 3000
    bare_tag = client.get(world.bare_path).headers["ETag"]
    ours, theirs = paired(poll(world.feed_path, tag), poll(world.bare_path, bare_tag), rounds)
    unchanged = Figure(
        f"feed 304 (If-None-Match), {SESSIONS} sessions ({database}) vs bare Flask 304",
        "ms",
        median_ms(ours),
        median_ms(theirs),
        target=1.5,
        details={"rounds": rounds},
    )
    return [body, unchanged]


def paired(
    ours: Callable[[], object], theirs: Callable[[], object], rounds: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of each, alternating, so a noisy neighbour slows both alike."""
    first, second = interleaved([ours, theirs], rounds)
    return first, second


def triple(
    a: Callable[[], object], b: Callable[[], object], c: Callable[[], object], rounds: int
) -> tuple[list[float], list[float], list[float]]:
    first, second, third = interleaved([a, b, c], rounds)
    return first, second, third


def interleaved(
    calls: list[Callable[[], object]], rounds: int, warmup: int = 3
) -> list[list[float]]:
    """Seconds per call of each, taking turns, after `warmup` uncounted turns."""
    for _ in range(warmup):
        for call in calls:
            call()
    found: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for samples, call in zip(found, calls, strict=True):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
    return found


def profile() -> None:
    """Where the time of a generation and of 304 polls goes (pyinstrument, text to stdout)."""
    from pyinstrument import Profiler

    with (
        tempfile.TemporaryDirectory(prefix="peerline-bench-feeds-") as folder,
        built(f"sqlite:///{Path(folder) / 'feeds.sqlite3'}", Path(folder)) as world,
    ):
        tag = world.client.get(world.feed_path).headers["ETag"]
        unchanged = {"If-None-Match": tag}
        steps: list[tuple[str, int, Callable[[], object]]] = [
            ("generation", 20, lambda: content.calendar(world.sessions, for_supporter=True)),
            ("full poll", 20, lambda: world.client.get(world.feed_path)),
            ("304 poll", 500, lambda: world.client.get(world.feed_path, headers=unchanged)),
        ]
        for name, times, call in steps:
            profiler = Profiler(interval=0.0002)
            with profiler:
                for _ in range(times):
                    call()
            print(f"===== {name} x {times}")
            print(profiler.output_text(unicode=True, show_all=False))


if __name__ == "__main__":
    if "--profile" in sys.argv:
        profile()
    else:
        from bench.__main__ import main

        sys.exit(main(["--only", "feeds", *sys.argv[1:]]))
