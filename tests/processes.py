"""PeerLine as real processes for tests: `python -m core.cli …` in its own session, killed after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    log: Path | None = None,
    module: str = "core.cli",
) -> Iterator[subprocess.Popen[str]]:
    """Start `peerline …` (or `python -m module …`); output is piped, or written to `log`."""
    sink = open(log, "a") if log is not None else None  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=cwd,
        text=True,
        stdout=sink or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop(process)
        for stream in (process.stdout, sink):
            if stream is not None:
                stream.close()


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM the process group, SIGKILL if it lingers; a group already gone is fine."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        process.wait()
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    """Poll until the server answers (process start-up, not a timed wait in the product)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited with {process.returncode}"
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERLINE_")}
    env["PEERLINE_INSTANCE_PATH"] = str(tmp_path / "instance")
    env.update(extra)
    return env


def slots_ahead(base: str, days: int, program: str = "acme") -> list[dict[str, Any]]:
    """A running server's free slots from five hours ahead, for `days` (real time: a process)."""
    start = datetime.now(UTC) + timedelta(hours=5)
    window = {"program": program, "from": start.isoformat()}
    window["to"] = (start + timedelta(days=days)).isoformat()
    found = requests.get(f"{base}/api/v1/slots", params=window, timeout=(5, 30))
    assert found.status_code == 200, found.text
    return list(found.json()["slots"])
