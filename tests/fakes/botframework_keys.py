"""A fake Bot Framework OpenID metadata + JWKS server on loopback, and a token minter.

    with FakeBotFrameworkKeys(app_id="app-1", now=clock.now) as keys:
        authenticator = BotAuthenticator(app_id="app-1", now=clock.now,
                                         openid_metadata_url=keys.metadata_url)
        authenticator.verify(f"Bearer {keys.token()}", activity)

Keys are RSA-2048, generated at test time, each with a kid and an endorsements list.
`fetches` counts requests per document; `down = True` answers 503; `rotate()` swaps keys.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from tests.live_server import QuietRequestHandler

HOST = "127.0.0.1"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
ISSUER = "https://api.botframework.com"
SERVICE_URL = "https://smba.trafficmanager.net/teams/"


@dataclass(frozen=True)
class TestKey:
    """A signing key as the Bot Framework publishes it: kid, private half, endorsements."""

    kid: str
    private: rsa.RSAPrivateKey
    endorsements: tuple[str, ...]

    def jwk(self) -> dict[str, Any]:
        """The public JWKS entry, with Microsoft's `endorsements` extension."""
        entry: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**entry, "kid": self.kid, "use": "sig", "endorsements": list(self.endorsements)}


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh key per test run: no private key lives in the repository."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeBotFrameworkKeys:
    """Serves the metadata and JWKS documents; mints tokens signed with its keys."""

    def __init__(
        self,
        *,
        app_id: str,
        now: Callable[[], datetime],
        service_url: str = SERVICE_URL,
        endorsements: Sequence[str] = ("msteams",),
    ) -> None:
        """Starts with one key, `key-1`, endorsed for `endorsements`."""
        self.app_id, self.service_url = app_id, service_url
        self._now = now
        self._lock = threading.Lock()
        self._keys: list[TestKey] = []
        self.fetches: Counter[str] = Counter()
        self.down = False
        self.add_key("key-1", endorsements)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeBotFrameworkKeys as a context manager"
        return f"http://{HOST}:{self._server.server_port}"

    @property
    def metadata_url(self) -> str:
        return self.url + METADATA_PATH

    @property
    def key_fetches(self) -> int:
        """How many times the JWKS was asked for (served or failed)."""
        with self._lock:
            return self.fetches[KEYS_PATH]

    @property
    def keys(self) -> list[TestKey]:
        with self._lock:
            return list(self._keys)

    def add_key(self, kid: str, endorsements: Sequence[str] = ("msteams",)) -> TestKey:
        """Publish one more key, as Microsoft does ahead of a rotation."""
        key = TestKey(kid=kid, private=new_rsa_key(), endorsements=tuple(endorsements))
        with self._lock:
            self._keys.append(key)
        return key

    def rotate(self, kid: str, endorsements: Sequence[str] = ("msteams",)) -> TestKey:
        """Replace every published key with one new key."""
        key = TestKey(kid=kid, private=new_rsa_key(), endorsements=tuple(endorsements))
        with self._lock:
            self._keys = [key]
        return key

    def token(
        self,
        *,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | bytes | None = None,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        """A JWT like the Bot Connector's; a claim overridden with None is left out."""
        first = self.keys[0]
        now = self._now()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": self.app_id,
            "exp": int((now + timedelta(hours=1)).timestamp()),
            "nbf": int((now - timedelta(minutes=1)).timestamp()),
            "serviceurl": self.service_url,
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        headers = {"kid": kid or first.kid}
        if alg == "none":
            return unsigned_token(claims, headers)
        return jwt.encode(claims, key or first.private, algorithm=alg, headers=headers)

    def __enter__(self) -> Self:
        self._server = make_server(
            HOST, 0, self._app, threaded=True, request_handler=QuietRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-botframework-keys",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        """Count the fetch, then answer it (or fail it, while `down`)."""
        with self._lock:
            self.fetches[request.path] += 1
            keys = list(self._keys)
        if self.down:
            return Response("unavailable", status=503)
        body: dict[str, Any]
        if request.path == METADATA_PATH:
            body = {"issuer": ISSUER, "jwks_uri": self.url + KEYS_PATH}
        elif request.path == KEYS_PATH:
            body = {"keys": [key.jwk() for key in keys]}
        else:
            return Response("not found", status=404)
        return Response(json.dumps(body), content_type="application/json")


def unsigned_token(claims: dict[str, Any], headers: dict[str, str]) -> str:
    """An `alg: none` token, built by hand so no library refuses to mint it."""

    def segment(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{segment({'alg': 'none', 'typ': 'JWT', **headers})}.{segment(claims)}."
