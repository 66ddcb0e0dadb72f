"""`python -m bench [--only NAME,…] [--quick] [--json FILE]`: run, print a table and JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from bench.harness import Figure, machine

SUITES = {
    "slots": "bench.slots",
    "booking": "bench.booking",
    "slack_ack": "bench.slack_ack",
    "feeds": "bench.feeds",
}
"""Each module has `run(quick: bool) -> list[Figure]`."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help="comma-separated: " + ", ".join(SUITES))
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(SUITES)
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    figures: list[Figure] = []
    for name in chosen:
        started = time.perf_counter()
        module = importlib.import_module(SUITES[name])
        found = module.run(quick=args.quick)
        figures += found
        print(f"# {name}: {len(found)} figures in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)  # fmt: skip
    report = {"machine": machine(), "figures": [f.as_json() for f in figures]}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    print(table(figures))
    return 0 if all(f.passed is not False for f in figures) else 1


def table(figures: list[Figure]) -> str:
    rows = [("figure", "ours", "baseline", "ratio", "target", "")]
    for f in figures:
        target = "" if f.target is None else (
            f"≤ {f.target:g}x" if f.kind == "ratio" else
            f"= {f.target:g}" if f.kind == "exact" else f"≤ {f.target:g} {f.unit}"
        )  # fmt: skip
        mark = {True: "ok", False: "MISSED", None: ""}[f.passed]
        rows.append((
            f.name,
            f"{f.value:.4g} {f.unit}",
            "" if f.baseline is None else f"{f.baseline:.4g} {f.unit}",
            "" if f.ratio is None else f"{f.ratio:.2f}x",
            target,
            mark,
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


if __name__ == "__main__":
    sys.exit(main())
