"""LTI Dynamic Registration 1.0: an LMS administrator pastes one URL and PeerLine is installed.

The platform opens `/lti/register?openid_configuration=…&registration_token=…` (keeping the
query we gave it). PeerLine reads the platform's OpenID configuration, checks it, POSTs its
client registration with the token, and stores the platform (and its deployment, if the
answer names one) for the program. The registration URL carries a key derived from the
secret key and the program, because whoever registers a platform decides whose launches
a program trusts: `peerline lti registration-url` prints it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import requests

from core.errors import PeerLineError
from lms.lti import platforms
from lms.lti.errors import LtiRefused
from lms.lti.platforms import Platform, Registration
from lms.lti.tool import TOOL_CONFIGURATION, ToolUrls, registration_request

if TYPE_CHECKING:
    from core.runtime import Runtime

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TIMEOUT = (5.0, 20.0)
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")


def refused(reason: str, explanation: str, status: int = 400) -> LtiRefused:
    return LtiRefused(f"registration_{reason}", explanation, status=status)


def registration_key(runtime: Runtime, program: str) -> str:
    """The key that lets a registration URL attach platforms to this one program."""
    secret = runtime.settings.secret_key
    assert secret is not None
    message = f"peerline lti registration\x00{program}".encode()
    return hmac.new(secret.get_secret_value().encode(), message, hashlib.sha256).hexdigest()[:32]


def registration_url(runtime: Runtime, urls: ToolUrls, program: str) -> str:
    query = urlencode({"program": program, "key": registration_key(runtime, program)})
    return f"{urls.register}?{query}"


class DynamicRegistration:
    """One registration attempt; every failure is an LtiRefused with words for the admin."""

    def __init__(self, runtime: Runtime, http: requests.Session) -> None:
        self.runtime = runtime
        self.http = http

    def program_for(self, params: Mapping[str, str]) -> str:
        """The program named in the URL (or the only school program), if the key fits it."""
        try:
            program = params.get("program") or platforms.sole_school(self.runtime)
            platforms.program_id_of(self.runtime, program)
        except PeerLineError:
            raise refused("unknown_program", "This registration link names no program.") from None
        key = params.get("key", "")
        if not hmac.compare_digest(key, registration_key(self.runtime, program)):
            raise refused(
                "bad_key",
                "This registration link is not valid. Ask PeerLine's operator for the link "
                "printed by `peerline lti registration-url`.",
                403,
            )
        return program

    def register(
        self, program: str, config_url: str, token: str | None, urls: ToolUrls
    ) -> Platform:
        config = self._configuration(config_url)
        product = _product(config)
        answer = self._post(config["registration_endpoint"], token, urls, product)
        client_id = answer.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise refused("no_client_id", "Your learning platform did not return a client id.", 502)
        tool = answer.get(TOOL_CONFIGURATION)
        deployment = tool.get("deployment_id") if isinstance(tool, dict) else None
        deployments = (str(deployment),) if isinstance(deployment, str | int) else ()
        try:
            return platforms.register(
                self.runtime,
                Registration(
                    program=program,
                    issuer=config["issuer"],
                    client_id=client_id,
                    auth_login_url=config["authorization_endpoint"],
                    auth_token_url=config["token_endpoint"],
                    jwks_url=config["jwks_uri"],
                    deployments=deployments,
                    registered_by="dynamic",
                    adopts_deployments=not deployments,
                    product=product,
                ),
            )
        except PeerLineError as exc:
            raise refused("rejected", f"PeerLine could not store this platform: {exc}") from None

    def _configuration(self, config_url: str) -> dict[str, Any]:
        """The platform's OpenID configuration, on the issuer's own host, all https."""
        try:
            platforms.web_url("openid_configuration", config_url)
        except PeerLineError:
            raise refused(
                "bad_configuration_url", "The platform's address must be https."
            ) from None
        config = self._json(self.http.get, config_url, headers={"Accept": "application/json"})
        issuer = config.get("issuer")
        host = urlsplit(config_url).hostname
        if not isinstance(issuer, str) or urlsplit(issuer).hostname != host:
            raise refused("issuer_mismatch", "The platform's issuer does not match its address.")
        for name in ("issuer", *ENDPOINTS):
            value = config.get(name)
            try:
                platforms.web_url(name, value if isinstance(value, str) else "")
            except PeerLineError:
                raise refused(
                    "incomplete_configuration", f"The platform's configuration has no https {name}."
                ) from None
        if not isinstance(config.get(PLATFORM_CONFIGURATION), dict):
            raise refused("not_lti", "The platform's configuration is not an LTI platform's.")
        return config

    def _post(
        self, endpoint: str, token: str | None, urls: ToolUrls, product: str | None
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = registration_request(urls, product)
        return self._json(self.http.post, endpoint, headers=headers, json=body)

    def _json(self, method: Any, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = method(url, timeout=TIMEOUT, **kwargs)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError):
            raise refused(
                "platform_unavailable",
                "PeerLine could not reach your learning platform, or it refused the "
                "registration. Try again in a few minutes.",
                502,
            ) from None
        if not isinstance(body, dict):
            raise refused("platform_unavailable", "Your learning platform answered oddly.", 502)
        return body


def _product(config: Mapping[str, Any]) -> str | None:
    platform = config.get(PLATFORM_CONFIGURATION)
    code = platform.get("product_family_code") if isinstance(platform, dict) else None
    return code if isinstance(code, str) else None
