"""Slack's 3-second limit: signed `/peer` commands from 20 clients against `peerline serve`.

`python -m bench --only slack_ack`; `python -m bench.slack_ack --profile` shows where the time
of one /peer before its 200 goes (pyinstrument, in-process); `--cpu` prints the CPU time per
/peer, the form after the 200 included (in-process, to compare versions of the code).

The server is the real gunicorn process (`peerline serve`, the settings of core/cli.py)
talking to the fake Slack of tests/fakes/slack.py on loopback; each command is signed with
slack_sdk's own code and is new (its own trigger_id and response_url), as Slack's are, so the
replay guard runs each one. Each client is one keep-alive connection of the standard
library's http.client: the clients share this process and the machine's cores with the
server, so they must cost little (with `requests`, the clients' own CPU and their wait for
one another's interpreter lock counted in every figure, /healthz's p99 included).

The baseline is GET /healthz of the same server process under the same 20-client load: the
same gunicorn workers and threads, the same Flask app with its request hooks and access log,
no database and no Slack. The figure is the p99 time to the HTTP 200 of /peer, with a target
of 100 ms (1/30 of Slack's 3 s); the ratio to /healthz says what the app adds to it.
SQLite always; PostgreSQL too when PEERLINE_BENCH_DATABASE_URL is set (its public schema is
dropped and made anew).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from slack_sdk.signature import SignatureVerifier

from bench.harness import Figure, KeepAlive, cpu_seconds, median_ms, percentile, reset_postgres
from core import create_app, migrations
from core.runtime import runtime
from core.schemas.programs import ProgramIn
from core.schemas.supporters import SupporterIn
from core.services import programs, roster
from integrations.slack import workspaces
from tests.fakes.slack import RESPOND, FakeSlack
from tests.processes import clean_env, free_port, running, wait_until_up

PG_ENV = "PEERLINE_BENCH_DATABASE_URL"
CLIENTS = 20
TARGET_MS = 100.0  # 1/30 of the 3 s Slack waits for our 200
SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 - the bench's own
TOKEN = "xoxb-bench-token"  # noqa: S105 - valid only at the fake
TEAM = "T0TEAM"
SUPPORTERS = 12
SETTLE_SECONDS = 60  # every modal opened: polled, an upper bound


@dataclass
class Load:
    """What the clients saw (seconds to each 200, what was not a 200), and the server's CPU."""

    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_seconds: float = 0.0  # of gunicorn's workers, the work after the answer included


@dataclass
class Server:
    base: str
    slack: SlackProcess
    pid: int  # gunicorn's master
    sent: int = 0  # /peer commands so far
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def number(self) -> int:
        """A new command's number: its trigger_id and response_url are its own."""
        with self._lock:
            self.sent += 1
            return self.sent

    def cpu_seconds(self) -> float:
        """CPU time its workers have used so far (Linux /proc; 0 elsewhere)."""
        return cpu_seconds(children_of=self.pid)

    def settle(self) -> int:
        """Wait until every /peer sent so far has opened its modal; how many have."""
        return self.slack.count("views.open", self.sent, SETTLE_SECONDS)


class SlackProcess:
    """tests/fakes/slack.py in a process of its own: its work must not share the clients' GIL."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=_serve_fake_slack, args=(theirs,), daemon=True)

    def __enter__(self) -> SlackProcess:
        self._process.start()
        self.origin: str = self._pipe.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pipe.send(None)
        self._process.join(timeout=10)

    @property
    def url(self) -> str:
        return f"{self.origin}/api/"

    def count(self, method: str, at_least: int = 0, timeout: float = 0) -> int:
        """How many calls of `method` the fake has had, waiting up to `timeout` for `at_least`."""
        self._pipe.send((method, at_least, timeout))
        found: int = self._pipe.recv()
        return found


def _serve_fake_slack(pipe: Connection) -> None:
    with FakeSlack(token=TOKEN, team_id=TEAM) as slack:
        pipe.send(slack.origin)
        while (asked := pipe.recv()) is not None:
            method, at_least, timeout = asked
            pipe.send(len(slack.wait_for(method, at_least, timeout)))


def run(quick: bool) -> list[Figure]:
    """The SQLite server, then the PostgreSQL one when its URL is set."""
    figures = [measure("sqlite", None, quick)]
    url = os.environ.get(PG_ENV)
    if url:
        figures.append(measure("postgresql", url, quick))
    else:
        print(f"# slack_ack: {PG_ENV} not set: PostgreSQL figures skipped", file=sys.stderr)
    return figures


def measure(database: str, url: str | None, quick: bool) -> Figure:
    """Rounds of /healthz and /peer in turn, so a noisy neighbour slows both alike."""
    rounds, per_client = (2, 8) if quick else (5, 25)
    with serving(url) as server:
        ours, theirs = Load(), Load()
        burst(server, slash_command, 3, Load())  # warm-up: imports, connections, auth.test
        burst(server, healthz, 3, Load())
        for _ in range(rounds):
            burst(server, healthz, per_client, theirs)
            burst(server, slash_command, per_client, ours)
        sent, opened = server.sent, server.settle()
        told = server.slack.count(RESPOND)
    return Figure(
        f"/peer ack p99, {CLIENTS} clients, peerline serve ({database}) vs GET /healthz",
        "ms",
        percentile(ours.seconds, 0.99) * 1000,
        percentile(theirs.seconds, 0.99) * 1000,
        target=TARGET_MS,
        kind="absolute",
        details={
            "median_ms": round(median_ms(ours.seconds), 1),
            "baseline_median_ms": round(median_ms(theirs.seconds), 1),
            "requests": len(ours.seconds) + ours.errors,
            "errors": ours.errors,
            "baseline_errors": theirs.errors,
            "server_cpu_ms_per_request": round(ours.cpu_seconds * 1000 / len(ours.seconds), 2),
            "baseline_server_cpu_ms_per_request": round(
                theirs.cpu_seconds * 1000 / len(theirs.seconds), 2
            ),
            "modals_opened": opened,
            "told_instead": told,
            "commands_sent": sent,
            "clients": CLIENTS,
        },
    )


@contextmanager
def serving(url: str | None) -> Iterator[Server]:
    """A seeded database, the fake Slack, and `peerline serve` on them, stopped afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="peerline-bench-slack-") as folder,
        SlackProcess() as slack,
    ):
        path = Path(folder)
        database = url or f"sqlite:///{path / 'slack.sqlite3'}"
        env = clean_env(path, **environment(database), **slack_environment(slack.url))
        seed(database, path)
        port = free_port()
        args = ["serve", "--port", str(port)]
        with running(args, env, path, log=path / "serve.log") as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, process)
            yield Server(base, slack, process.pid)


def environment(database: str) -> dict[str, str]:
    return {
        "PEERLINE_ENV": "production",
        "PEERLINE_DATABASE_URL": database,
        "PEERLINE_SECRET_KEY": "bench-" + "k" * 40,
        "PEERLINE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PEERLINE_LOG_LEVEL": "WARNING",
    }


def in_process(database: str, instance: Path) -> dict[str, str]:
    """The server's PEERLINE_* settings, as create_app takes them."""
    found = {k.removeprefix("PEERLINE_").lower(): v for k, v in environment(database).items()}
    return found | {"instance_path": str(instance)}


def slack_environment(api_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
    }


def seed(database: str, folder: Path) -> None:
    """Schema by migrations; a program, supporters and the workspace link through services."""
    if database.startswith("postgresql"):
        reset_postgres(database)
    app = create_app(in_process(database, folder / "seed") | {"env": "testing"}, plugins=[])
    current = runtime(app)
    migrations.upgrade(current.engine)
    ctx = current.system_ctx()
    with ctx.session:
        program = programs.create_program(
            ctx,
            ProgramIn.model_validate({
                "slug": "acme", "name": "Acme Corp", "kind": "workplace",
                "time_zone": "Europe/London", "topics": ["stress", "general", "grief"],
                "languages": ["en", "es"], "modes": ["text", "video"],
            }),
        )  # fmt: skip
        for number in range(SUPPORTERS):
            roster.add_supporter(
                ctx,
                program,
                SupporterIn.model_validate({
                    "alias": f"Supporter {number}", "time_zone": "Europe/London",
                    "languages": ["en"], "topics": ["stress"],
                    "contacts": [{"platform": "slack", "address": f"U0S{number:04d}"}],
                }),
            )  # fmt: skip
        ctx.session.commit()
    workspaces.link(current, TEAM, "acme")
    current.engine.dispose()


class Client(Protocol):
    """A KeepAlive connection to a server, or the Flask test client in-process."""

    def send(self, method: str, path: str, body: str | bytes | None = None,
             headers: dict[str, str] | None = None) -> int:  # fmt: skip
        """The answer's HTTP status."""


def slash_command(server: Server, client: Client) -> bool:
    """One new /peer from one user, signed as Slack signs it; True on a 200."""
    number = server.number()
    body = urlencode({
        "command": "/peer", "text": "", "team_id": TEAM, "user_id": f"U0ASK{number:05d}",
        "channel_id": "D0", "trigger_id": f"bench-trigger-{number}",
        "response_url": f"{server.slack.origin}/respond/{number}",  # FakeSlack.response_url
    })  # fmt: skip
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return client.send("POST", "/slack/events", body, headers) == 200


def healthz(_server: Server, client: Client) -> bool:
    return client.send("GET", "/healthz") == 200


def burst(
    server: Server,
    call: Callable[[Server, Client], bool],
    per_client: int,
    into: Load,
) -> None:
    """CLIENTS threads, each with its own connection, `per_client` calls each, back to back."""
    lock, gate = threading.Lock(), threading.Barrier(CLIENTS)

    def client() -> None:
        connection = KeepAlive(server.base)
        try:
            gate.wait()
            for _ in range(per_client):
                start = time.perf_counter()
                try:
                    ok = call(server, connection)
                except (OSError, http.client.HTTPException):
                    ok = False
                took = time.perf_counter() - start
                with lock:
                    if ok:
                        into.seconds.append(took)
                    else:
                        into.errors += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    cpu = server.cpu_seconds()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if call is slash_command:  # its modals too: no work of /peer spills into the baseline
        server.settle()
    into.cpu_seconds += server.cpu_seconds() - cpu


@contextmanager
def in_process_app() -> Iterator[tuple[Flask, FakeSlack, Server, _TestSession]]:
    """The app `peerline serve` loads (plugins by entry point) with the fake Slack, in this
    process, driven through Flask's test client: nothing of gunicorn, after 20 warm-ups."""
    with (
        tempfile.TemporaryDirectory(prefix="peerline-bench-slack-") as folder,
        FakeSlack(token=TOKEN, team_id=TEAM) as slack,
    ):
        database = f"sqlite:///{Path(folder) / 'slack.sqlite3'}"
        seed(database, Path(folder))
        os.environ.update(slack_environment(slack.url))
        app = create_app(in_process(database, Path(folder) / "instance"))
        server = Server("", slack, 0)  # type: ignore[arg-type]
        with app.test_client() as client:
            session = _TestSession(client)
            for _ in range(20):
                slash_command(server, session)
            yield app, slack, server, session
            slack.wait_for("views.open", server.sent, SETTLE_SECONDS)  # no form left running
        runtime(app).engine.dispose()


def profile() -> None:
    """Where /peer's time before its 200 goes, in-process (pyinstrument, text to stdout).

    It samples this thread only: the form after the 200 is opened on another thread.
    """
    from pyinstrument import Profiler

    with in_process_app() as (_app, _slack, server, session):
        profiler = Profiler(interval=0.0002)
        with profiler:
            for _ in range(200):
                slash_command(server, session)
    print(profiler.output_text(unicode=True, show_all=False))


def cpu(rounds: int = 3, commands: int = 600) -> None:
    """CPU time of this process per /peer, the form after the 200 included (stdout).

    The fake Slack runs in this process too (its share is in the figure, the same for any
    version of the app), `commands` back to back, `rounds` times. CPU time, not the clock:
    it compares two versions of the code taking turns, on a noisy machine, without 20
    clients queueing.
    """
    found: list[float] = []
    with in_process_app() as (_app, slack, server, session):
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(commands):
                slash_command(server, session)
            slack.wait_for("views.open", server.sent, SETTLE_SECONDS)  # every form opened
            found.append((time.process_time() - start) / commands * 1000)
    print("CPU ms per /peer, each round:", ", ".join(f"{ms:.2f}" for ms in found))


class _TestSession:
    """A `Client` over Flask's test client, for `slash_command` in-process."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def send(self, method: str, path: str, body: str | bytes | None = None,
             headers: dict[str, str] | None = None) -> int:  # fmt: skip
        return self.client.open(path, method=method, data=body, headers=headers).status_code


if __name__ == "__main__":
    if "--profile" in sys.argv:
        profile()
    elif "--cpu" in sys.argv:
        cpu()
    else:
        from bench.__main__ import main

        sys.exit(main(["--only", "slack_ack", *sys.argv[1:]]))
