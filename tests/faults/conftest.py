"""The fault tests reuse the process tests' SMTP server and two-app, two-worker cluster."""

from tests.e2e.test_workers import cluster, smtp

__all__ = ["cluster", "smtp"]
