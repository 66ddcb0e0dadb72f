"""Checks an LTI 1.3 id_token completely before PeerLine believes a word of it.

Signature (RS256, by kid, against the platform's JWKS), issuer, audience (a string, or a
list in which case `azp` must be our client id), expiry and issue time (five minutes of
skew, on the runtime clock), nonce present, LTI version 1.3.0, a message type PeerLine
handles, and a deployment registered for that platform. The state and the nonce's single
use are checked when the launch is accepted (`lms.lti.oidc.accept`), in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard

import jwt

from core.errors import ValidationFailed
from lms.lti import platforms
from lms.lti.errors import bad_request, not_authentic, not_registered
from lms.lti.platform_keys import ALGORITHM, PlatformKeys
from lms.lti.platforms import Platform

if TYPE_CHECKING:
    from core.runtime import Runtime

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
CLOCK_SKEW = timedelta(minutes=5)
MAX_TOKEN_LENGTH = 65_536
MAX_ROLES = 64

DAMAGED = "The link from your course was incomplete or damaged."
NOT_SET_UP = (
    "PeerLine is not set up for this {what} yet. Please tell your school's peer support team."
)


@dataclass(frozen=True)
class Launch:
    """What a valid id_token vouches for; `sub` stays here and in the sealed student only."""

    platform: Platform
    message_type: str
    sub: str
    deployment_id: str
    known_deployment: bool
    roles: tuple[str, ...]
    locale: str | None
    nonce: str
    expires_at: datetime
    return_url: str | None = None  # Deep Linking: where the response goes
    return_data: str | None = None  # Deep Linking: the platform's opaque `data`, echoed


class LaunchValidator:
    def __init__(self, runtime: Runtime, keys: PlatformKeys) -> None:
        self.runtime = runtime
        self.keys = keys

    def validate(self, id_token: str) -> Launch:
        """The launch, or LtiRefused naming the first check that failed."""
        if len(id_token) > MAX_TOKEN_LENGTH:
            raise bad_request("token_too_long", DAMAGED)
        kid = _key_id(id_token)
        platform = self._platform(_unverified(id_token))
        claims = _decode(id_token, self.keys.key(platform.jwks_url, kid), platform)
        _check_azp(claims, platform.client_id)
        _check_times(claims, self.runtime.clock.now())
        return self._launch(claims, platform)

    def _platform(self, unverified: Mapping[str, Any]) -> Platform:
        """The registration the token names (issuer + client id), before any key is fetched."""
        issuer, client_ids = unverified.get("iss"), _client_ids(unverified)
        if not isinstance(issuer, str) or not client_ids:
            raise bad_request("missing_issuer_or_audience", DAMAGED)
        found = [p for p in platforms.find(self.runtime, issuer, None) if p.client_id in client_ids]
        if len(found) != 1:
            raise not_registered("unknown_platform", NOT_SET_UP.format(what="learning platform"))
        return found[0]

    def _launch(self, claims: Mapping[str, Any], platform: Platform) -> Launch:
        if claims.get(CLAIM + "version") != "1.3.0":
            raise bad_request("unsupported_version", "PeerLine cannot open this kind of link.")
        message_type = claims.get(CLAIM + "message_type")
        if message_type not in (RESOURCE_LINK, DEEP_LINKING):
            raise bad_request("unsupported_message_type", "PeerLine cannot open this kind of link.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise bad_request(
                "anonymous_launch",
                "Your course opened PeerLine without saying who you are, so PeerLine cannot "
                "keep your bookings for you. Please tell your school's peer support team.",
            )
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonce or len(nonce) > 128:
            raise not_authentic("missing_nonce")
        deployment = self._deployment(claims, platform)
        return_url, return_data = (
            _deep_linking(claims) if message_type == DEEP_LINKING else _link(claims)
        )
        return Launch(
            platform=platform,
            message_type=message_type,
            sub=sub,
            deployment_id=deployment,
            known_deployment=deployment in platform.deployments,
            roles=_roles(claims.get(CLAIM + "roles")),
            locale=_locale(claims.get(CLAIM + "launch_presentation")),
            nonce=nonce,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            return_url=return_url,
            return_data=return_data,
        )

    def _deployment(self, claims: Mapping[str, Any], platform: Platform) -> str:
        deployment = claims.get(CLAIM + "deployment_id")
        if not isinstance(deployment, str) or not deployment or len(deployment) > 255:
            raise bad_request("missing_deployment", DAMAGED)
        if deployment not in platform.deployments and not platform.adopts_deployments:
            raise not_registered(
                "unknown_deployment", NOT_SET_UP.format(what="part of your learning platform")
            )
        return deployment


def _key_id(token: str) -> str:
    """Only RS256 with a kid; the header is read unverified just to pick the key."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise bad_request("malformed_token", DAMAGED) from None
    if header.get("alg") != ALGORITHM:
        raise not_authentic("algorithm_not_allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise not_authentic("no_key_id")
    return kid


def _unverified(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise bad_request("malformed_token", DAMAGED) from None
    return claims


def _client_ids(claims: Mapping[str, Any]) -> list[str]:
    """Who the token may be for: `azp` when given, else every audience."""
    aud, azp = claims.get("aud"), claims.get("azp")
    if isinstance(azp, str):
        return [azp]
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def _decode(token: str, key: Any, platform: Platform) -> dict[str, Any]:
    """PyJWT checks signature, issuer and audience; times are ours (it reads the wall clock)."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=platform.client_id,
            issuer=platform.issuer,
            options={
                "require": ["iss", "aud", "exp", "iat"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise not_authentic("bad_signature") from None
    except jwt.InvalidAudienceError:
        raise not_authentic("wrong_audience") from None
    except jwt.InvalidIssuerError:
        raise not_authentic("wrong_issuer") from None
    except jwt.MissingRequiredClaimError:
        raise bad_request("missing_claim", DAMAGED) from None
    except jwt.PyJWTError:
        raise not_authentic("invalid_token") from None


def _check_azp(claims: Mapping[str, Any], client_id: str) -> None:
    """With several audiences `azp` must be present; when present it must be us."""
    aud, azp = claims.get("aud"), claims.get("azp")
    if isinstance(aud, list) and len(aud) > 1 and azp is None:
        raise not_authentic("missing_azp")
    if azp is not None and azp != client_id:
        raise not_authentic("wrong_azp")


def _check_times(claims: Mapping[str, Any], now: datetime) -> None:
    moment, skew = now.timestamp(), CLOCK_SKEW.total_seconds()
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", 0)
    if not (_is_number(exp) and _is_number(iat) and _is_number(nbf)):
        raise bad_request("bad_times", DAMAGED)
    if moment > exp + skew:
        raise not_authentic("expired")
    if moment < iat - skew or moment < nbf - skew:
        raise not_authentic("not_yet_valid")


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _roles(value: object) -> tuple[str, ...]:
    """The roles claim as given (a missing claim is no roles); anything else is refused."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ROLES:
        raise bad_request("bad_roles", DAMAGED)
    return tuple(role for role in value if isinstance(role, str) and len(role) <= 255)


def _locale(value: object) -> str | None:
    locale = value.get("locale") if isinstance(value, dict) else None
    return locale if isinstance(locale, str) and 0 < len(locale) <= 35 else None


def _link(claims: Mapping[str, Any]) -> tuple[None, None]:
    link = claims.get(CLAIM + "resource_link")
    if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
        raise bad_request("missing_resource_link", DAMAGED)
    return None, None


def _deep_linking(claims: Mapping[str, Any]) -> tuple[str, str | None]:
    """Where to send the content item; only platforms that accept a resource link."""
    settings = claims.get(DL_CLAIM + "deep_linking_settings")
    if not isinstance(settings, dict):
        raise bad_request("missing_deep_linking_settings", DAMAGED)
    return_url, accepted = settings.get("deep_link_return_url"), settings.get("accept_types")
    if not isinstance(return_url, str):
        raise bad_request("missing_return_url", DAMAGED)
    try:
        platforms.web_url("deep_link_return_url", return_url)
    except ValidationFailed:
        raise bad_request("unsafe_return_url", DAMAGED) from None
    if not isinstance(accepted, list) or "ltiResourceLink" not in accepted:
        raise bad_request(
            "link_not_accepted", "This place in your course cannot hold a link to PeerLine."
        )
    data = settings.get("data")
    return return_url, data if isinstance(data, str) else None
