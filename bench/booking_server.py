"""`peerline serve` with the booking benchmark's bare endpoint: the same gunicorn, the same app.

`python -m bench.booking_server --port N --workers W --threads T`, with the PEERLINE_*
settings in the environment: every plugin `peerline serve` discovers, plus the baseline of
bench/booking_world.py, served by core.cli.run_production. Only the benchmark starts it.
"""

from __future__ import annotations

import argparse

from bench.booking_world import bare_plugin
from core import create_app
from core.cli import run_production
from core.plugins import discover


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    app = create_app(plugins=[*discover(), ("bench-bare", bare_plugin)])
    run_production(app, "127.0.0.1", args.port, args.workers, args.threads)


if __name__ == "__main__":
    main()
