"""Where a booking's time goes: a pyinstrument profile, and every statement at the cursor.

`python -m bench.booking_profile` profiles 300 bookings on SQLite (`--postgresql` on
PEERLINE_BENCH_DATABASE_URL, with PEERLINE_BENCH_REDIS_URL if set). `--statements` instead
times each statement where it meets the database (sent, run, its answer read) for a
booking, the same INSERT as an API operation and the bare endpoint, taking turns, and
prints the floor: what a booking would cost if its own Python took no time at all and it
sent the statements it sends now.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.booking import PG_ENV, REDIS_ENV, callers, counted, uncontended
from bench.feeds import interleaved
from core.runtime import runtime

ROUNDS, WARMUP = 300, 3
_TABLE = re.compile(r"^\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)|\bFROM\s+(\w+)", re.I)


def main() -> None:
    url = os.environ.get(PG_ENV) if "--postgresql" in sys.argv else None
    redis_url = os.environ.get(REDIS_ENV) if url else None
    with tempfile.TemporaryDirectory(prefix="peerline-bench-booking-") as folder:
        database_url = url or f"sqlite:///{Path(folder) / 'booking.sqlite3'}"
        with uncontended(database_url, Path(folder), 3 * ROUNDS, redis_url) as world:
            book, bare, api = callers(world)
            engine = runtime(world.app).engine
            if "--statements" in sys.argv:
                statements({"booking": book, "api insert": api, "bare": bare}, engine)
            else:
                profile(book, engine)


def profile(book: Callable[[], None], engine: Engine) -> None:
    """pyinstrument's call tree of ROUNDS bookings, as text."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    with profiler, counted(engine) as sent:
        for _ in range(ROUNDS):
            book()
    print(f"===== {ROUNDS} bookings; statements: {dict(sent)}")
    print(profiler.output_text(unicode=True, show_all=False))


def statements(calls: dict[str, Callable[[], None]], engine: Engine) -> None:
    """Each call's median time, and its statements' mean time at the cursor, taking turns."""
    turns: dict[str, list[list[tuple[str, float]]]] = {name: [] for name in calls}

    def watched(name: str, call: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            seen.clear()
            call()
            turns[name].append(list(seen))

        return run

    with at_the_cursor(engine) as seen:
        found = interleaved([watched(name, call) for name, call in calls.items()], ROUNDS, WARMUP)
    cursor: dict[str, dict[str, float]] = {name: defaultdict(float) for name in calls}
    for name, each in turns.items():
        for label, seconds in chain.from_iterable(each[WARMUP:]):  # warm-ups not counted
            cursor[name][label] += seconds
    print_statements(dict(zip(calls, found, strict=True)), cursor)


def print_statements(totals: dict[str, list[float]], cursor: dict[str, dict[str, float]]) -> None:
    ms = {name: statistics.median(found) * 1000 for name, found in totals.items()}
    at = {name: sum(found.values()) * 1000 / ROUNDS for name, found in cursor.items()}
    for name in totals:
        print(f"{name}: {ms[name]:.3f} ms a request (median), {at[name]:.3f} ms at the cursor")
        for label, seconds in cursor[name].items():
            print(f"    {seconds * 1000 / ROUNDS:7.3f} ms  {label}")
    floor = ms["api insert"] + at["booking"] - at["api insert"]
    budget = 2 * ms["bare"] - floor
    print(
        f"floor, the API insert plus the booking's extra time at the cursor: {floor:.3f} ms = "
        f"{floor / ms['bare']:.2f}x bare\n"
        f"the booking's own Python now: {ms['booking'] - floor:.3f} ms; "
        f"left for it at 2x bare: {budget:.3f} ms"
    )


@contextmanager
def at_the_cursor(engine: Engine) -> Iterator[list[tuple[str, float]]]:
    """(statement, seconds) of each statement and COMMIT while inside, in order."""
    seen: list[tuple[str, float]] = []

    def before(conn: Any, *_: Any) -> None:
        conn.info["bench_sent_at"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append((_label(statement), time.perf_counter() - conn.info.pop("bench_sent_at")))

    dialect = engine.dialect
    commit = dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        started = time.perf_counter()
        commit(dbapi_connection)
        seen.append(("COMMIT", time.perf_counter() - started))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    dialect.do_commit = timed_commit  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        dialect.do_commit = commit  # type: ignore[method-assign]


def _label(statement: str) -> str:
    """Its verb and first table: 'UPDATE support_requests', 'SELECT supporters'."""
    verb = statement.split(None, 1)[0].upper()
    found = _TABLE.search(statement)
    return f"{verb} {(found.group(1) or found.group(2)) if found else ''}".strip()


if __name__ == "__main__":
    main()
