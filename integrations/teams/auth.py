"""Inbound Bot Framework authentication: no activity is processed before its JWT checks out.

    authenticator = BotAuthenticator(app_id=APP_ID, now=clock.now)
    claims = authenticator.verify(request.headers.get("Authorization"), activity)

Every failure raises `BotAuthError` (an `Unauthorized`, so HTTP 401) with a short reason
that never repeats the token. Signing keys come from the OpenID metadata's `jwks_uri`,
are kept for a day, and an unknown `kid` triggers at most one refetch an hour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import jwt
import requests

from core.errors import Unauthorized

DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
DEFAULT_ISSUER = "https://api.botframework.com"
ALGORITHM = "RS256"
CLOCK_SKEW = timedelta(minutes=5)
KEY_LIFETIME = timedelta(hours=24)
REFETCH_INTERVAL = timedelta(hours=1)
MAX_TOKEN_LENGTH = 16_384  # far above any real token; bounds the work a stranger can ask for


class BotAuthError(Unauthorized):
    """A request that is not provably from the Bot Connector; the reason is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    """What a verified token vouches for, so handlers never re-read the raw JWT."""

    app_id: str
    service_url: str
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class SigningKey:
    """One JWKS entry: the public key and the channels it may sign for."""

    key: Any
    endorsements: frozenset[str]


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str, SigningKey]
    fetched_at: datetime


class BotAuthenticator:
    """Checks a Bot Framework JWT against the OpenID keys, the bot's app id and the activity."""

    def __init__(
        self,
        *,
        app_id: str,
        now: Callable[[], datetime],
        openid_metadata_url: str = DEFAULT_OPENID_METADATA_URL,
        issuer: str = DEFAULT_ISSUER,
        http: requests.Session | None = None,
        timeout: float = 5,
    ) -> None:
        """Keyword-only, so a sovereign cloud's URL and issuer cannot be swapped by position."""
        if not app_id:
            raise ValueError("app_id is required")
        self.app_id = app_id
        self.issuer = issuer
        self.openid_metadata_url = openid_metadata_url
        self._now = now
        self._http = http if http is not None else requests.Session()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._keyset: _KeySet | None = None
        self._last_refetch: datetime | None = None

    def verify(self, authorization_header: str | None, activity: Mapping[str, Any]) -> Claims:
        """Raise BotAuthError unless the header proves the activity came from the Bot Connector."""
        token = _bearer_token(authorization_header)
        kid = _key_id(token)
        signing_key = self._signing_key(kid)
        claims = self._decode(token, signing_key)
        self._check_lifetime(claims)
        _check_endorsement(signing_key, activity)
        service_url = _check_service_url(claims, activity)
        return Claims(app_id=self.app_id, service_url=service_url, raw=MappingProxyType(claims))

    def _decode(self, token: str, signing_key: SigningKey) -> dict[str, Any]:
        """PyJWT checks signature, issuer, audience; times are ours (PyJWT reads the wall clock)."""
        try:
            return jwt.decode(
                token,
                signing_key.key,
                algorithms=[ALGORITHM],
                audience=self.app_id,
                issuer=self.issuer,
                options={
                    "require": ["iss", "aud", "exp"],
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise BotAuthError("bad signature") from None
        except jwt.InvalidIssuerError:
            raise BotAuthError("wrong issuer") from None
        except jwt.InvalidAudienceError:
            raise BotAuthError("wrong audience") from None
        except jwt.PyJWTError:
            raise BotAuthError("invalid token") from None

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """Allow five minutes of skew either way, measured by the runtime clock."""
        now = self._now().timestamp()
        skew = CLOCK_SKEW.total_seconds()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not _is_number(exp) or not _is_number(nbf):
            raise BotAuthError("invalid token times")
        if now > exp + skew:
            raise BotAuthError("token expired")
        if now < nbf - skew:
            raise BotAuthError("token not yet valid")

    def _signing_key(self, kid: str) -> SigningKey:
        """Serve from the cache; refresh when stale, or (at most hourly) when the kid is new."""
        with self._lock:
            now = self._now()
            keyset = self._keyset
            if keyset is None or now - keyset.fetched_at >= KEY_LIFETIME:
                keyset = self._refresh(now)
            elif kid not in keyset.keys and self._may_refetch(now):
                self._last_refetch = now
                keyset = self._refresh(now)
        found = keyset.keys.get(kid)
        if found is None:
            raise BotAuthError("unknown signing key")
        return found

    def _may_refetch(self, now: datetime) -> bool:
        """An unknown kid costs at most one fetch an hour, so strangers cannot make us hammer."""
        return self._last_refetch is None or now - self._last_refetch >= REFETCH_INTERVAL

    def _refresh(self, now: datetime) -> _KeySet:
        """Fetch metadata then keys; on failure the old keys stay and this request is refused."""
        try:
            metadata = self._fetch_json(self.openid_metadata_url)
            keys = _parse_jwks(self._fetch_json(self._jwks_uri(metadata)))
        except (requests.RequestException, ValueError):
            raise BotAuthError("signing keys unavailable") from None
        self._keyset = _KeySet(keys=MappingProxyType(keys), fetched_at=now)
        return self._keyset

    def _jwks_uri(self, metadata: Mapping[str, Any]) -> str:
        """Only https, or the metadata URL's own scheme (a loopback fake), may serve keys."""
        uri = metadata.get("jwks_uri")
        if not isinstance(uri, str):
            raise ValueError("metadata has no jwks_uri")
        if urlsplit(uri).scheme not in {"https", urlsplit(self.openid_metadata_url).scheme}:
            raise ValueError("jwks_uri scheme not allowed")
        return uri

    def _fetch_json(self, url: str) -> dict[str, Any]:
        """One GET with a timeout; anything but a JSON object counts as a failed fetch."""
        response = self._http.get(url, timeout=self._timeout)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return body


def _bearer_token(header: str | None) -> str:
    """Exactly `Bearer <jwt>`; anything else is refused before any parsing."""
    if not header:
        raise BotAuthError("missing authorization header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        raise BotAuthError("malformed authorization header")
    if len(token) > MAX_TOKEN_LENGTH:
        raise BotAuthError("token too long")
    return token


def _key_id(token: str) -> str:
    """Read the unverified header only to pick a key, refusing any algorithm but RS256."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise BotAuthError("malformed token") from None
    if header.get("alg") != ALGORITHM:
        raise BotAuthError("algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise BotAuthError("token has no key id")
    return kid


def _parse_jwks(document: Mapping[str, Any]) -> dict[str, SigningKey]:
    """Usable RSA signing keys by kid; an entry PyJWT cannot read is skipped, not fatal."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("JWKS has no keys")
    keys: dict[str, SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        kid, endorsements = entry.get("kid"), entry.get("endorsements", [])
        if not isinstance(kid, str) or not isinstance(endorsements, list):
            continue
        try:
            public = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        except jwt.PyJWTError:
            continue
        allowed = frozenset(item for item in endorsements if isinstance(item, str))
        keys[kid] = SigningKey(key=public, endorsements=allowed)
    if not keys:
        raise ValueError("JWKS has no usable keys")
    return keys


def _check_endorsement(signing_key: SigningKey, activity: Mapping[str, Any]) -> None:
    """A key endorsed for one channel must not vouch for activities from another."""
    channel_id = activity.get("channelId")
    if not isinstance(channel_id, str) or channel_id not in signing_key.endorsements:
        raise BotAuthError("key not endorsed for channel")


def _check_service_url(claims: Mapping[str, Any], activity: Mapping[str, Any]) -> str:
    """The token must name the serviceUrl we would reply to, or replies could be redirected."""
    claimed, posted = claims.get("serviceurl"), activity.get("serviceUrl")
    if not isinstance(claimed, str) or not isinstance(posted, str):
        raise BotAuthError("missing service url")
    if _strip_slash(claimed) != _strip_slash(posted):
        raise BotAuthError("service url mismatch")
    return _strip_slash(posted)


def _strip_slash(url: str) -> str:
    """At most one trailing slash differs between the claim and the activity."""
    return url[:-1] if url.endswith("/") else url


def _is_number(value: object) -> TypeGuard[float]:
    """JWT times are NumericDate; a bool is an int to Python but not a time."""
    return isinstance(value, int | float) and not isinstance(value, bool)
