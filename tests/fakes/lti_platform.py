"""A fake LTI 1.3 platform (an LMS) over TLS on loopback, and the app wired to it.

    with lti_stack(database_url, tmp_path, clock) as stack:
        location = stack.login()                         # the tool's redirect to /auth
        form = stack.platform.authorize(location)        # what the LMS form-POSTs back
        stack.client.post("/lti/launch", data=form)

The platform serves its JWKS, its OpenID configuration and a Dynamic Registration
endpoint over real HTTPS (the tool's own `requests` code runs); its keys are RSA-2048
made at test time. `authorize` plays the OIDC authorization endpoint in-process: it
checks the tool's authentication request and mints the id_token with PyJWT.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.wrappers import Request, Response

from core.clock import FrozenClock
from core.runtime import runtime
from lms.lti import hook
from tests.conftest import make_app
from tests.fakes.botconnector import serve
from tests.fakes.botframework_keys import TestKey, new_rsa_key
from tests.fakes.smtp import Certificates, make_certificates
from tests.helpers import make_world

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
DELETE = object()  # an override value that leaves the claim out
REGISTRATION_TOKEN = "reg-token-secret"


class FakeLtiPlatform:
    """One LMS: issuer = its https URL, one client id, one deployment, one signing key."""

    def __init__(
        self,
        *,
        certificates: Certificates,
        now: Callable[[], datetime],
        client_id: str = "peerline-client-1",
        deployment_id: str = "deployment-1",
        registration_token: str = REGISTRATION_TOKEN,
        product: str = "moodle",
        returns_deployment: bool = True,
    ) -> None:
        self.client_id, self.deployment_id = client_id, deployment_id
        self.registration_token, self.product = registration_token, product
        self.returns_deployment = returns_deployment
        self._certificates, self._now = certificates, now
        self._stack = ExitStack()
        self._lock = threading.Lock()
        self.keys = [TestKey(kid="platform-key-1", private=new_rsa_key(), endorsements=())]
        self.fetches: Counter[str] = Counter()
        self.registrations: list[dict[str, Any]] = []
        self.registration_auth: list[str | None] = []
        self.issuer_override: str | None = None
        self.url = ""

    def __enter__(self) -> FakeLtiPlatform:
        self.url = self._stack.enter_context(serve(self._wsgi, self._certificates))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    @property
    def return_url(self) -> str:
        return f"{self.url}/deep-link-return"

    def rotate(self, kid: str) -> TestKey:
        key = TestKey(kid=kid, private=new_rsa_key(), endorsements=())
        with self._lock:
            self.keys = [key]
        return key

    # -- the authorization endpoint, in-process --------------------------------------------

    def authorize(
        self,
        location: str,
        overrides: dict[str, Any] | None = None,
        **signing: Any,
    ) -> dict[str, str]:
        """Check the tool's authentication request; return the form the LMS would POST."""
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == self.auth_url, location
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        assert query["response_type"] == "id_token" and query["response_mode"] == "form_post"
        assert query["scope"] == "openid" and query["prompt"] == "none"
        assert query["client_id"] == self.client_id
        token = self.id_token(query["nonce"], overrides, **signing)
        return {"id_token": token, "state": query["state"]}

    def id_token(
        self,
        nonce: str,
        overrides: dict[str, Any] | None = None,
        *,
        kid: str | None = None,
        key: Any = None,
        alg: str = "RS256",
    ) -> str:
        """A resource link launch for a learner; `overrides` change claims (DELETE drops one)."""
        now = self._now()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "a6f1-opaque-student",
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "iat": int(now.timestamp()),
            "nonce": nonce,
            "name": "Sam Student",
            "email": "sam@example.edu",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "https://tool.invalid/lti/launch",
            CLAIM + "resource_link": {"id": "link-1", "title": "Peer support"},
            CLAIM + "roles": [LEARNER],
            CLAIM + "context": {"id": "course-1", "title": "Biology 101"},
            CLAIM + "launch_presentation": {"locale": "en-GB", "document_target": "iframe"},
        }
        for name, value in (overrides or {}).items():
            if value is DELETE:
                claims.pop(name, None)
            else:
                claims[name] = value
        signer = self.keys[0]
        return jwt.encode(
            claims, key or signer.private, algorithm=alg, headers={"kid": kid or signer.kid}
        )

    def deep_linking_claims(self, **settings: Any) -> dict[str, Any]:
        """Overrides that make a launch an instructor's Deep Linking request."""
        return {
            CLAIM + "message_type": "LtiDeepLinkingRequest",
            CLAIM + "resource_link": DELETE,
            CLAIM + "roles": [INSTRUCTOR],
            DL_CLAIM + "deep_linking_settings": {
                "deep_link_return_url": self.return_url,
                "accept_types": ["ltiResourceLink", "link"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": "opaque-platform-data",
                **settings,
            },
        }

    # -- served over HTTPS -----------------------------------------------------------------

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.fetches[request.path] += 1
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if request.path == "/jwks":
            with self._lock:
                keys = [{**key.jwk(), "alg": "RS256"} for key in self.keys]
            for entry in keys:
                entry.pop("endorsements", None)
            return _json({"keys": keys})
        if request.path == "/.well-known/openid-configuration":
            return _json(self._configuration())
        if request.path == "/register" and request.method == "POST":
            return self._register(request)
        return _json({"error": "not found"}, 404)

    def _configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_override or self.issuer,
            "authorization_endpoint": self.auth_url,
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
            "registration_endpoint": f"{self.url}/register",
            "scopes_supported": ["openid"],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "name"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": self.product,
                "version": "4.3",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }

    def _register(self, request: Request) -> Response:
        authorization = request.headers.get("Authorization")
        body = request.get_json(silent=True)
        with self._lock:
            self.registration_auth.append(authorization)
            self.registrations.append(body if isinstance(body, dict) else {})
        if authorization != f"Bearer {self.registration_token}" or not isinstance(body, dict):
            return _json({"error": "invalid_token"}, 401)
        tool = dict(body["https://purl.imsglobal.org/spec/lti-tool-configuration"])
        if self.returns_deployment:
            tool["deployment_id"] = self.deployment_id
        return _json({**body, "client_id": self.client_id, TOOL: tool})


TOOL = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


# -- the app, wired to the fake platform ----------------------------------------------------


@dataclass
class LtiStack:
    """The app with the LTI tool, a school program `uni`, and one fake platform."""

    app: Flask
    client: FlaskClient
    platform: FakeLtiPlatform
    clock: FrozenClock
    http: requests.Session
    certificates: Certificates
    extra: list[FakeLtiPlatform] = field(default_factory=list)

    def register(self, platform: FakeLtiPlatform | None = None, program: str = "uni") -> None:
        """Register the platform by CLI, with its one deployment."""
        target = platform or self.platform
        result = self.app.test_cli_runner().invoke(
            args=[
                "lti", "register", "--program", program,
                "--issuer", target.issuer, "--client-id", target.client_id,
                "--auth-url", target.auth_url, "--token-url", target.token_url,
                "--jwks-url", target.jwks_url, "--deployment", target.deployment_id,
            ]
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    def login(self, platform: FakeLtiPlatform | None = None, **params: str) -> str:
        """The platform's login initiation; returns where the tool redirects the browser."""
        target = platform or self.platform
        form = {
            "iss": target.issuer,
            "login_hint": "opaque-login-hint",
            "target_link_uri": "http://localhost/lti/launch",
            "lti_message_hint": "opaque-message-hint",
            "client_id": target.client_id,
            "lti_deployment_id": target.deployment_id,
            **params,
        }
        response = self.client.post("/lti/login", data=form)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response.headers["Location"]

    def count(self, table: str) -> int:
        with runtime(self.app).engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


@contextmanager
def lti_stack(
    database_url: str,
    tmp_path: Path,
    clock: FrozenClock,
    plugins: tuple[tuple[str, Any], ...] = (),
    **settings: Any,
) -> Iterator[LtiStack]:
    """The app with only the LTI tool (and `plugins`), on `settings`, with the platform up."""
    certificates = make_certificates(tmp_path / "tls")
    with (
        FakeLtiPlatform(certificates=certificates, now=clock.now) as platform,
        requests.Session() as http,
    ):
        http.trust_env = False
        http.verify = str(certificates.ca_file)
        app = make_app(
            database_url,
            tmp_path,
            clock,
            plugins=[("lms_lti", partial(hook.init_app, http=http)), *plugins],
            **settings,
        )
        client = app.test_client()
        make_world(app, client, slug="uni", name="Uni Peer Support", kind="school")
        stack = LtiStack(app, client, platform, clock, http, certificates)
        try:
            yield stack
        finally:
            for extra in stack.extra:
                extra.__exit__()
            runtime(app).engine.dispose()


def new_platform(stack: LtiStack, **options: Any) -> FakeLtiPlatform:
    """A second (or third) platform on its own port, stopped with the stack's test."""
    platform = FakeLtiPlatform(certificates=stack.certificates, now=stack.clock.now, **options)
    platform.__enter__()
    stack.extra.append(platform)
    return platform


def fresh_nonce() -> str:
    return secrets.token_urlsafe(16)
