"""PeerLine's benchmarks: `python -m bench` (see BENCHMARKS.md). Speed is measured here only."""
