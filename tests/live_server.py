"""The real app behind a real threaded WSGI server on loopback, so races use real sockets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

T = TypeVar("T")
START_TIMEOUT = 10.0  # seconds the racers may take to line up at the barrier


class QuietRequestHandler(WSGIRequestHandler):
    """No access-log line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextmanager
def live_server(
    app: Flask, request_handler: type[WSGIRequestHandler] = QuietRequestHandler
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 at an ephemeral port; yields the base URL.

    Quiet by default; werkzeug's own handler logs each request, as `peerline demo` does.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=request_handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def race(racers: int, run: Callable[[int, Callable[[], object]], T]) -> list[T]:
    """Run `run(i, start)` in `racers` threads; each calls `start()` to wait for all the others.

    A racer's exception is re-raised here, in the test's thread, never left in its own.
    """
    barrier = threading.Barrier(racers, timeout=START_TIMEOUT)
    with ThreadPoolExecutor(max_workers=racers, thread_name_prefix="racer") as pool:
        futures = [pool.submit(run, i, barrier.wait) for i in range(racers)]
        return [future.result() for future in futures]
