"""Running the job queue: `peerline worker` in production, a thread inside `peerline demo`."""

from __future__ import annotations

import logging
import threading

from flask import Flask
from huey.consumer import Consumer

from core.jobs import InProcessConsumer, Jobs, start_ticker
from core.runtime import runtime

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # the longest an idle worker waits before looking at a SQLite queue again


def jobs_of(app: Flask) -> Jobs:
    jobs = runtime(app).jobs
    assert jobs is not None, "create_app always sets up the job queue"
    return jobs


def run_worker(app: Flask, threads: int, tick_seconds: float) -> None:
    """Consume jobs until SIGINT/SIGTERM; the tick first sends whatever a dead worker left."""
    jobs = jobs_of(app)
    stop_ticking = start_ticker(jobs, tick_seconds)
    consumer = Consumer(
        jobs.huey, workers=threads, worker_type="thread", periodic=False, max_delay=POLL_SECONDS
    )
    try:
        consumer.run()
    finally:
        stop_ticking.set()


def start_in_process(app: Flask, threads: int = 2, tick_seconds: float = 15.0) -> threading.Event:
    """The demo's worker: consumer threads and the ticker beside the web server."""
    jobs = jobs_of(app)
    InProcessConsumer(
        jobs.huey, workers=threads, worker_type="thread", periodic=False, max_delay=POLL_SECONDS
    ).start()
    return start_ticker(jobs, tick_seconds)
