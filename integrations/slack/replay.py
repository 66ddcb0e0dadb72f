"""Slack's signature proves who sent a request, not that it is new: each one runs once.

A request captured on the way (a proxy log, a browser extension on a Slack admin's machine)
stays validly signed for Slack's 5-minute window, and resending it would, say, file a
second support request. So every signature that passed verification is claimed in the
ledger (the database in production) and a second arrival is not run: a retry Slack marks
with X-Slack-Retry-Num is acknowledged (200, nothing run), anything else is refused (401).
A request that failed (5xx) gives its claim back, so Slack's retry of it runs again.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from flask import Response, jsonify
from slack_sdk.signature import SignatureVerifier
from werkzeug.datastructures import Headers

if TYPE_CHECKING:
    from integrations.slack.app import EventLedger

log = logging.getLogger(__name__)
KEY_PREFIX = "sig:"  # shares the events ledger; Slack's event ids start "Ev", never "sig:"
RETRY_HEADER = "X-Slack-Retry-Num"


class ReplayGuard:
    """Claims each verified signature once; answers a repeat without running it."""

    def __init__(self, signing_secret: str, ledger: EventLedger) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._ledger = ledger

    def key(self, body: bytes, headers: Headers) -> str | None:
        """The ledger key of a validly signed, fresh request; None leaves it to bolt to refuse."""
        signature = headers.get("X-Slack-Signature")
        valid = self._verifier.is_valid(body, headers.get("X-Slack-Request-Timestamp"), signature)
        if not valid or signature is None:
            return None
        digest = hashlib.sha256(signature.encode()).hexdigest()
        return KEY_PREFIX + digest[: 64 - len(KEY_PREFIX)]

    def repeat(self, key: str, headers: Headers) -> Response | None:
        """None the first time; for a repeat the answer to give instead of running it."""
        if self._ledger.claim(key):
            return None
        retry = headers.get(RETRY_HEADER)
        if retry:
            log.info("Slack request delivered again (retry %s): acknowledged, not run", retry[:4])
            return Response("", status=200)
        log.warning("Slack request replayed with a signature already used: refused")
        return refused()

    def failed(self, key: str) -> None:
        """A request that failed gives its claim back, so Slack's retry of it runs."""
        self._ledger.forget(key)


def malformed(headers: Headers) -> bool:
    """A timestamp that is not a number: slack_sdk's check would raise (a 500), so refuse it."""
    stamp = headers.get("X-Slack-Request-Timestamp")
    if stamp is None:
        return False
    try:
        int(stamp)
    except ValueError:
        return True
    return False


def refused() -> Response:
    """bolt's own answer to a request that is not provably Slack's."""
    response = jsonify({"error": "invalid request"})
    response.status_code = 401
    return response
