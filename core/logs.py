"""Structured logs: one JSON object per line, with a last-line filter against leaked secrets.

Nothing in PeerLine logs identities, notes or secrets on purpose (a test scans for
them); the filter is the second line of defence for what a library might print.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

REDACTIONS = (
    (re.compile(r"\bpl[a-z]_[A-Za-z0-9_\-]{8,}"), "[token]"),  # API, requester, feed tokens
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-=%]{20,}"), "[sealed]"),  # Fernet: a student's session
    (re.compile(r"(?i)\bbearer\s+\S+"), "Bearer [token]"),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+"), "[address]"),
    (re.compile(r"(?i)(smtps?://[^:/@\s]*:)[^@\s]+@"), r"\1[secret]@"),
)
# Libraries whose debug lines carry people's data, capped whatever the root level is:
# urllib3 logs each URL (Graph user ids, capability paths), slack_sdk each request's body
# and headers, msal its token requests, SQLAlchemy each statement with its parameters.
LIBRARY_LEVELS = {
    "urllib3": logging.INFO,
    "slack_sdk": logging.INFO,
    "msal": logging.INFO,
    "sqlalchemy": logging.WARNING,
}
# Loggers that put a request's path in their lines (werkzeug's access log of `peerline demo`):
# the path of a private link or a feed is its token, and a booking page's query a session.
PATH_LOGGERS = ("werkzeug",)
STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactRecord(logging.Filter):
    """Redacts a record before any handler sees it, so no handler (or test) gets the raw path."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def quiet_libraries() -> None:
    """Cap the libraries that log people's data, and redact the loggers that log paths."""
    for name, level in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(level)
    for name in PATH_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactRecord) for f in logger.filters):
            logger.addFilter(RedactRecord())


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, any `extra=` fields, and the exception type if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool) else redact(str(value))
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = type(record.exc_info[1]).__name__
            entry["trace"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str) -> None:
    """JSON lines on stderr for every logger (ours, gunicorn's, huey's)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("core", "integrations", "lms", "huey"):
        logging.getLogger(name).setLevel(level)
    quiet_libraries()


class AccessLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's access log with every atom redacted: capability URLs (private links,
    calendar feeds) carry their token in the path, and that must not rest in a log."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in found.items()}
