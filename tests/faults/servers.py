"""Servers a fault test may break without touching shared ones: a TCP proxy, a private Redis.

The shared PostgreSQL and Redis serve other test runs, so a test never restarts them. It puts
`LoopbackProxy` between the app and PostgreSQL and cuts that instead (every open connection
reset, new ones refused, as during a database restart), and starts a `redis-server` of its
own on a free port to stop and start again.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import free_port

HOST = "127.0.0.1"
START_SECONDS = 10.0  # an upper bound on a server coming up, polled
NOTHING_KEPT = ("--save", "", "--appendonly", "no")  # a crash loses everything Redis held


class LoopbackProxy:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` is an outage, `restore()` ends it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.connections = 0  # accepted since start, for tests that want to see traffic
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    def __enter__(self) -> LoopbackProxy:
        self.restore()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cut()

    def restore(self) -> None:
        """Listen again on the same port: new connections reach the server."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener,), name="proxy-accept", daemon=True
        )
        self._acceptor.start()

    def cut(self) -> None:
        """Stop listening (connections are refused) and reset every open connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for each in sockets:
            _reset(each)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._join(client, listener)

    def _join(self, client: socket.socket, listener: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        client.settimeout(None)
        server.settimeout(None)
        with self._lock:
            if self._listener is not listener:  # cut while this one was being joined
                _reset(client)
                _reset(server)
                return
            self._sockets.update((client, server))
            self.connections += 1
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                with self._lock:
                    self._sockets.discard(each)
                _reset(each)


def _reset(connection: socket.socket) -> None:
    """Drop a connection at once (a pump blocked on it wakes up); doing it twice is fine."""
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


class PrivateRedis:
    """A redis-server on a free loopback port, nothing saved; stop it and start it again."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: the Redis outage test needs its own")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        where = ("--port", str(self.port), "--bind", HOST, "--dir", str(self.folder))
        self.process = subprocess.Popen(
            [self.binary, *where, *NOTHING_KEPT],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "redis-server exited at start"
            if self.answers():
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not come up")

    def stop(self) -> None:
        """Kill it outright: whatever it held in memory is gone, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def private_redis(folder: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
