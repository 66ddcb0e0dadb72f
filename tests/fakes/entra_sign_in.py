"""The fake Entra ID, plus the authorization-code flow a browser goes through to sign in.

    with FakeEntraSignIn(tenant_id="t1", client_id="console", client_secret="s",
                         certificates=certificates, now=clock.now) as aad:
        aad.person = Person(oid="oid-1", email="ada@acme.test", name="Ada")
        # GET <authorize URL from msal> -> 302 to redirect_uri?code=...&state=...
        aad.refuse = "access_denied"   # the next authorize answers with this error instead

The authorize endpoint checks client id, response type, openid scope, state, nonce and a
S256 PKCE challenge. The token endpoint's authorization_code grant checks the client secret,
the one-use code, the redirect URI and the verifier, and answers with an RS256 id_token
carrying the nonce, tid, oid, preferred_username and name (times from `now`). Everything
FakeEntraID does (discovery, client credentials) is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from tests.fakes.botconnector import FakeEntraID, _json
from tests.fakes.botframework_keys import new_rsa_key
from tests.fakes.smtp import Certificates

KID = "entra-test-key"


@dataclass(frozen=True)
class Person:
    """Who signs in at the fake's authorize page; `tid` None means the fake's own tenant."""

    oid: str
    email: str
    name: str = "Ada Lovelace"
    tid: str | None = None


@dataclass(frozen=True)
class _Grant:
    person: Person
    redirect_uri: str
    nonce: str
    challenge: str


class FakeEntraSignIn(FakeEntraID):
    """FakeEntraID that also signs people in (authorize + authorization_code grant)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        certificates: Certificates,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            certificates=certificates,
        )
        self.now = now
        self._key = new_rsa_key()
        self._grants: dict[str, _Grant] = {}
        self.person: Person | None = None
        self.refuse: str | None = None
        self.authorize_requests: list[dict[str, str]] = []
        self._routes.add(Rule("/<tenant>/oauth2/v2.0/authorize", endpoint="authorize"))

    def handle(self, request: Request) -> Response:
        endpoint, args = self._routes.bind_to_environ(request.environ).match()
        if args["tenant"] != self.tenant_id:
            return _json({"error": "invalid_tenant"}, 400)
        if endpoint == "authorize":
            return self._authorize(request)
        if endpoint == "token" and request.form.get("grant_type") == "authorization_code":
            return self._code_grant(request)
        return super().handle(request)

    def _authorize(self, request: Request) -> Response:
        query = request.args.to_dict()
        with self._lock:
            self.authorize_requests.append(query)
            person, refuse = self.person, self.refuse
            self.refuse = None
        redirect_uri, state = query.get("redirect_uri", ""), query.get("state", "")
        checks = (
            query.get("client_id") == self.client_id,
            query.get("response_type") == "code",
            "openid" in query.get("scope", "").split(),
            bool(redirect_uri and state and query.get("nonce")),
            query.get("code_challenge_method") == "S256",
        )
        if not all(checks):
            return _json({"error": "invalid_request"}, 400)
        if refuse or person is None:
            answer = {"error": refuse or "access_denied", "error_description": "AADSTS65004: x"}
            return _back(redirect_uri, {**answer, "state": state})
        code = secrets.token_urlsafe(24)
        grant = _Grant(person, redirect_uri, query["nonce"], query.get("code_challenge", ""))
        with self._lock:
            self._grants[code] = grant
        return _back(redirect_uri, {"code": code, "state": state, "session_state": "s"})

    def _code_grant(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self._secret:
            return _json({"error": "invalid_client", "error_description": "AADSTS7000215"}, 401)
        with self._lock:
            grant = self._grants.pop(str(form.get("code", "")), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return _json({"error": "invalid_grant", "error_description": "AADSTS54005"}, 400)
        if _challenge(str(form.get("code_verifier", ""))) != grant.challenge:
            return _json({"error": "invalid_grant", "error_description": "AADSTS501481"}, 400)
        tid = grant.person.tid or self.tenant_id
        info = json.dumps({"uid": grant.person.oid, "utid": tid}).encode()
        return _json(
            {
                "token_type": "Bearer",
                "scope": "openid profile email",
                "expires_in": 3599,
                "access_token": secrets.token_urlsafe(32),
                "id_token": self._id_token(grant, tid),
                "client_info": base64.urlsafe_b64encode(info).decode().rstrip("="),
            }
        )

    def _id_token(self, grant: _Grant, tid: str) -> str:
        now = self.now()
        claims: dict[str, Any] = {
            "ver": "2.0",
            "iss": f"{self.url}/{tid}/v2.0",
            "aud": self.client_id,
            "tid": tid,
            "oid": grant.person.oid,
            "sub": f"pairwise-{grant.person.oid}",
            "preferred_username": grant.person.email,
            "name": grant.person.name,
            "nonce": grant.nonce,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KID})


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _back(redirect_uri: str, params: dict[str, str]) -> Response:
    """The browser is sent back to the app with the answer in the query (response_mode query)."""
    joiner = "&" if "?" in redirect_uri else "?"
    return Response("", 302, {"Location": f"{redirect_uri}{joiner}{urlencode(params)}"})
