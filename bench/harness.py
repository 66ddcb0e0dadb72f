"""What every benchmark shares: timing, figures as ratios to a same-process baseline, output.

A figure is our median (or p99) against a baseline measured in the same process on the same
machine just before or after, so a noisy or slow machine moves both and the ratio holds.
"""

from __future__ import annotations

import http.client
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tests.conftest import reset_postgres as reset_postgres  # a bench database starts empty

Target = Literal["ratio", "absolute", "exact", "info"]
UNLIMITED = "1000000 per minute"  # the limiter still runs on every request, it never says 429
RATES = ("intake", "lookup", "token", "per_token", "feed")


@dataclass
class Figure:
    """One measured result and, where the issue sets one, its target."""

    name: str  # e.g. "slot search, 300 supporters"
    unit: str  # of value and baseline: "ms", "MB", "bookings", …
    value: float  # ours
    baseline: float | None = None  # the bare reference, same unit
    target: float | None = None  # ratio ≤ target, value ≤ target, or value == target
    kind: Target = "ratio"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.kind == "info":
            return None
        if self.kind == "ratio":
            return self.ratio is not None and self.ratio <= self.target
        if self.kind == "exact":
            return self.value == self.target
        return self.value <= self.target

    def as_json(self) -> dict[str, Any]:
        found = asdict(self)
        found["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        found["passed"] = self.passed
        return found


def timings(call: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Seconds per call, after `warmup` calls that are not counted."""
    for _ in range(warmup):
        call()
    found = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        found.append(time.perf_counter() - start)
    return found


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def percentile(samples: list[float], share: float) -> float:
    """The `share` quantile (0.99 for p99) by nearest rank."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))
    return ordered[rank]


def machine() -> dict[str, Any]:
    """Where the figures came from, for BENCHMARKS.md."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((ln.split(":", 1)[1].strip() for ln in info if "model name" in ln), "")
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu or platform.processor(),
        "cpus": os.cpu_count(),
    }


def app_settings(database_url: str, folder: Path, **extra: Any) -> dict[str, Any]:
    """A benchmark app's settings: the testing clock allowed, every rate limit out of reach."""
    return {
        "database_url": database_url,
        "env": "testing",
        "instance_path": str(folder / "instance"),
        "secret_key": "bench-" + "k" * 40,
        "public_url": "https://peer.example.edu",
        **{f"rate_limit_{rate}": UNLIMITED for rate in RATES},
        **extra,
    }


def cpu_seconds(*, children_of: int | None = None, named: str | None = None) -> float:
    """CPU time used so far by a process's children (gunicorn's workers) or by every process
    whose name starts with `named` ("postgres"), from Linux's /proc; 0 elsewhere."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = tail.split()  # state, ppid, …; utime and stime at 11 and 12
        if (children_of is not None and int(fields[1]) == children_of) or (
            named is not None and head.split("(", 1)[1].startswith(named)
        ):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class KeepAlive:
    """One benchmark client: one connection to the server, kept open, each answer read whole.

    The standard library's client: the clients share the machine's cores (and their process's
    interpreter lock) with the server they measure, so they must cost little.
    """

    def __init__(self, base: str, timeout: float = 10) -> None:
        address = urlsplit(base)
        assert address.hostname is not None and address.port is not None
        self._connection = http.client.HTTPConnection(
            address.hostname, address.port, timeout=timeout
        )
        self._connection.connect()  # before the clock starts, as a pool's would be

    def send(self, method: str, path: str, body: str | bytes | None = None,
             headers: dict[str, str] | None = None) -> int:  # fmt: skip
        """The answer's HTTP status."""
        self._connection.request(method, path, body, headers or {})
        answer = self._connection.getresponse()
        answer.read()
        return answer.status

    def close(self) -> None:
        self._connection.close()
