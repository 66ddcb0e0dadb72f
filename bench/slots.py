"""Slot search: `GET /api/v1/slots` 28 days ahead over 30, 300 and 3,000 supporters.

`python -m bench --only slots`; `python -m bench.slots --profile [N]` shows where a search's
time goes (pyinstrument). Each search runs through the WSGI app against a bare Flask endpoint
of the same app returning the same JSON document. Figures run on SQLite, and again on
PostgreSQL when PEERLINE_BENCH_DATABASE_URL is set (its public schema is dropped and made
anew). The memory figure runs `peerline serve` on the largest world and reads the peak
resident memory of its processes after a burst of searches.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.feeds import paired
from bench.harness import Figure, median_ms
from bench.slots_world import NOW, World, build
from core.runtime import runtime
from tests.processes import clean_env, free_port, running, wait_until_up

PG_ENV = "PEERLINE_BENCH_DATABASE_URL"
TARGET_SIZE = 300
TARGET_RATIO = 3.0


def run(quick: bool) -> list[Figure]:
    sizes = (30, 300) if quick else (30, 300, 3000)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="peerline-bench-slots-") as folder:
        databases: list[tuple[str, Callable[[int], str]]] = [
            ("sqlite", lambda n: f"sqlite:///{Path(folder) / f'slots{n}.sqlite3'}")
        ]
        url = os.environ.get(PG_ENV)
        if url:
            databases.append(("postgresql", lambda _n: url))
        else:
            print(f"# slots: {PG_ENV} not set: PostgreSQL figures skipped", file=sys.stderr)
        for database, url_of in databases:
            searched: dict[int, Figure] = {}
            for size in sizes:
                with built(url_of(size), Path(folder), size) as world:
                    searched[size] = search(world, database, quick)
                    figures.append(searched[size])
            if max(searched) > TARGET_SIZE:
                figures.extend(growth(searched, database))
        figures.append(memory(f"sqlite:///{Path(folder) / 'memory.sqlite3'}",
                              Path(folder), sizes[-1], quick))  # fmt: skip
    return figures


@contextmanager
def built(database_url: str, folder: Path, supporters: int) -> Iterator[World]:
    """A world whose objects are frozen out of the collector, as `peerline serve` freezes
    what it loaded before its workers start (the world's build leaves far more behind)."""
    world = build(database_url, folder, supporters)
    gc.collect()
    gc.freeze()
    try:
        yield world
    finally:
        gc.unfreeze()
        runtime(world.app).engine.dispose()


def search(world: World, database: str, quick: bool) -> Figure:
    """Our search against the bare endpoint, taking turns, for one world."""
    client = world.client
    ours_body = client.get(world.path).data
    bare_body = client.get(world.bare_path).data
    slots = len(world.app.config["BENCH_SLOTS"]["slots"])

    def get(path: str) -> Callable[[], object]:
        def call() -> None:
            response = client.get(path)
            assert response.status_code == 200
            response.close()

        return call

    rounds = max(3 if quick else 15, (10 if quick else 60) * 300 // max(world.supporters, 300))
    ours, theirs = paired(get(world.path), get(world.bare_path), rounds)
    return Figure(
        f"slot search, {world.supporters} supporters, 28 days ({database}) vs bare Flask",
        "ms",
        median_ms(ours),
        median_ms(theirs),
        target=TARGET_RATIO if world.supporters == TARGET_SIZE else None,
        kind="ratio" if world.supporters == TARGET_SIZE else "info",
        details={"rounds": rounds, "slots": slots, "bytes": len(ours_body),
                 "bare_bytes": len(bare_body)},
    )  # fmt: skip


def growth(searched: dict[int, Figure], database: str) -> list[Figure]:
    """Time per supporter at the largest size against the target size: ≤ 1 is linear or better.

    The two sizes are searched minutes apart, so a machine that slows down between them moves
    this figure; the bare endpoint's own growth, printed beside it, shows when that happened.
    """
    largest = max(searched)
    large, target = searched[largest], searched[TARGET_SIZE]
    assert large.baseline is not None and target.baseline is not None
    return [
        Figure(
            f"slot search growth, time per supporter at {largest:,} vs {TARGET_SIZE} ({database})",
            "ms/supporter",
            large.value / largest,
            target.value / TARGET_SIZE,
            target=1.0,
            details={
                f"{size} supporters, ms": round(found.value, 2)
                for size, found in sorted(searched.items())
            },
        ),
        Figure(
            f"the bare endpoint's growth, the same JSON, at {largest:,} vs {TARGET_SIZE} "
            f"({database}; for reference)",
            "ms/supporter",
            large.baseline / largest,
            target.baseline / TARGET_SIZE,
            kind="info",
        ),
    ]


def memory(database_url: str, folder: Path, supporters: int, quick: bool) -> Figure:
    """Peak resident memory of `peerline serve`'s worker under concurrent searches.

    The worker's peak includes the pages it shares with the master, which loaded the app.
    """
    with built(database_url, folder, supporters) as world:
        path = world.path
    clock = folder / "clock-offset"
    clock.write_text(str(NOW.timestamp() - time.time()))  # the world's frozen 'now'
    env = clean_env(folder, PEERLINE_DATABASE_URL=database_url, PEERLINE_ENV="testing",
                    PEERLINE_TEST_CLOCK_FILE=str(clock), PEERLINE_LOG_LEVEL="WARNING",
                    PEERLINE_SECRET_KEY="bench-" + "k" * 40,
                    PEERLINE_RATE_LIMIT_LOOKUP="1000000 per minute")  # fmt: skip
    port = free_port()
    serve = ["serve", "--port", str(port), "--workers", "1", "--threads", "4"]
    with running(serve, env, folder, log=folder / "serve.log") as server:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        master, worker = _tree(server.pid)
        at_start = _rss(worker)
        searches = 8 if quick else 40
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: requests.get(base + path, timeout=120),
                                    range(searches)))  # fmt: skip
        peak, master_peak = _peak(worker), _peak(master)
    answered = [a for a in answers if a.status_code == 200]
    return Figure(
        f"peak resident memory of the peerline serve worker, {supporters:,} supporters, "
        "4 concurrent searches",
        "MB",
        peak,
        kind="info",
        details={"searches": searches, "worker at start MB": at_start,
                 "master peak MB": master_peak,
                 "answers": dict(Counter(a.status_code for a in answers)),
                 "slots per answer": len(answered[0].json()["slots"]) if answered else None,
                 "bytes per answer": len(answered[0].content) if answered else None},
    )  # fmt: skip


def _tree(pid: int) -> tuple[int, int]:
    """gunicorn's master and its one worker (the app is loaded in the master, then forked)."""
    [child] = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return pid, int(child)


def _status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _rss(pid: int) -> float:
    return _status(pid, "VmRSS")


def _peak(pid: int) -> float:
    return _status(pid, "VmHWM")


def profile(supporters: int) -> None:
    from pyinstrument import Profiler

    with (
        tempfile.TemporaryDirectory(prefix="peerline-bench-slots-") as folder,
        built(f"sqlite:///{Path(folder) / 'slots.sqlite3'}", Path(folder), supporters) as world,
    ):
        profiler = Profiler(interval=0.0005)
        with profiler:
            for _ in range(5):
                world.client.get(world.path).close()
        print(profiler.output_text(unicode=True, show_all=False))


if __name__ == "__main__":
    if "--profile" in sys.argv:
        rest = [a for a in sys.argv[1:] if a.isdigit()]
        profile(int(rest[0]) if rest else TARGET_SIZE)
    else:
        from bench.__main__ import main

        sys.exit(main(["--only", "slots", *sys.argv[1:]]))
