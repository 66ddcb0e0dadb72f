"""Platforms' public keys (their JWKS), fetched with a timeout and cached per URL.

A key set is kept for an hour. A token signed with a kid the cache does not know makes
at most one refetch of that URL every five minutes, so a platform's key rotation is
picked up at once while a stranger's made-up kids cannot make us hammer the platform.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import requests

from lms.lti.errors import not_authentic

ALGORITHM = "RS256"
KEY_LIFETIME = timedelta(hours=1)
REFETCH_INTERVAL = timedelta(minutes=5)
TIMEOUT = (5.0, 10.0)  # connect, read


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, Any]
    fetched_at: datetime


class PlatformKeys:
    """RS256 public keys by (JWKS URL, kid); failures raise LtiRefused (401)."""

    def __init__(self, *, now: Callable[[], datetime], http: requests.Session) -> None:
        self._now = now
        self._http = http
        self._lock = threading.Lock()
        self._sets: dict[str, _KeySet] = {}
        self._refetched: dict[str, datetime] = {}

    def key(self, jwks_url: str, kid: str) -> Any:
        """The public key for `kid` at `jwks_url`, refreshing the cache when it must."""
        with self._lock:
            now = self._now()
            cached = self._sets.get(jwks_url)
            if cached is None or now - cached.fetched_at >= KEY_LIFETIME:
                cached = self._refresh(jwks_url, now)
            elif kid not in cached.keys and self._may_refetch(jwks_url, now):
                self._refetched[jwks_url] = now
                cached = self._refresh(jwks_url, now)
        found = cached.keys.get(kid)
        if found is None:
            raise not_authentic("unknown_signing_key")
        return found

    def _may_refetch(self, jwks_url: str, now: datetime) -> bool:
        last = self._refetched.get(jwks_url)
        return last is None or now - last >= REFETCH_INTERVAL

    def _refresh(self, jwks_url: str, now: datetime) -> _KeySet:
        """On failure the old keys stay cached, and this launch is refused."""
        try:
            response = self._http.get(jwks_url, timeout=TIMEOUT)
            response.raise_for_status()
            keys = parse_jwks(response.json())
        except (requests.RequestException, ValueError):
            raise not_authentic("platform_keys_unavailable") from None
        self._sets[jwks_url] = _KeySet(keys=keys, fetched_at=now)
        return self._sets[jwks_url]


def parse_jwks(document: object) -> dict[str, Any]:
    """Usable RSA signing keys by kid; an entry PyJWT cannot read is skipped, not fatal."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("JWKS has no keys")
    keys: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        except jwt.PyJWTError:
            continue
    if not keys:
        raise ValueError("JWKS has no usable keys")
    return keys
