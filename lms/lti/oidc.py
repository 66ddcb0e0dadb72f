"""The OIDC round trip: login initiation issues a state and nonce, the launch must return them.

The state goes two ways. A cookie (`SameSite=None; Secure; HttpOnly; Partitioned`, named
after the state so launches in two tabs don't collide) proves the launch comes back to
the browser that started it. A server-side record (a hash of the state, its nonce and the
platform, ten minutes) lets a launch succeed where the browser blocked that cookie in the
LMS iframe (Safari, strict third-party cookie settings): then the record alone vouches,
and it still only works once, for that platform, with the nonce signed into the id_token.
A cookie that comes back must match; a launch whose cookie is missing is not refused.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from lms.lti import platforms
from lms.lti.errors import bad_request, not_authentic, not_registered
from lms.lti.platforms import Platform
from lms.lti.storage import NONCES, STATES
from lms.lti.validation import DAMAGED, NOT_SET_UP, Launch

if TYPE_CHECKING:
    from core.runtime import Runtime

STATE_TTL = timedelta(minutes=10)
NONCE_KEPT_AT_MOST = timedelta(days=1)
COOKIE_PREFIX = "peerline-lti-"
COOKIE_PATH = "/lti/"


@dataclass(frozen=True)
class LoginRequest:
    """The platform's third-party login initiation (GET query or POST form)."""

    issuer: str
    login_hint: str
    target_link_uri: str
    message_hint: str | None = None
    client_id: str | None = None
    deployment_id: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> LoginRequest:
        def given(name: str) -> str | None:
            value = params.get(name)
            return value if value and len(value) <= 2048 else None

        issuer, hint, target = given("iss"), given("login_hint"), given("target_link_uri")
        if issuer is None or hint is None or target is None:
            raise bad_request("incomplete_login", DAMAGED)
        return cls(
            issuer=issuer,
            login_hint=hint,
            target_link_uri=target,
            message_hint=given("lti_message_hint"),
            client_id=given("client_id"),
            deployment_id=given("lti_deployment_id"),
        )


@dataclass(frozen=True)
class Login:
    """Where to send the browser next, and the state to remember in a cookie."""

    redirect_url: str
    state: str

    @property
    def cookie_name(self) -> str:
        return cookie_name(self.state)


def cookie_name(state: str) -> str:
    return COOKIE_PREFIX + _hash(state)[:16]


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def begin(runtime: Runtime, login: LoginRequest, redirect_uri: str) -> Login:
    """Record a state and nonce for the platform, and build its authentication request."""
    platform = _platform(runtime, login)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = runtime.clock.now()
    with runtime.engine.begin() as connection:
        connection.execute(delete(STATES).where(STATES.c.expires_at < now))
        connection.execute(delete(NONCES).where(NONCES.c.expires_at < now))
        connection.execute(
            STATES.insert().values(
                state_hash=_hash(state),
                nonce=nonce,
                platform_id=platform.id,
                expires_at=now + STATE_TTL,
            )
        )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if login.message_hint is not None:
        query["lti_message_hint"] = login.message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return Login(redirect_url=platform.auth_login_url + separator + urlencode(query), state=state)


def _platform(runtime: Runtime, login: LoginRequest) -> Platform:
    found = platforms.find(runtime, login.issuer, login.client_id)
    if not found:
        raise not_registered("unknown_platform", NOT_SET_UP.format(what="learning platform"))
    if len(found) > 1:  # one issuer, several client ids, and the platform named none
        raise bad_request("ambiguous_platform", DAMAGED)
    platform = found[0]
    deployment = login.deployment_id
    if deployment and deployment not in platform.deployments and not platform.adopts_deployments:
        raise not_registered(
            "unknown_deployment", NOT_SET_UP.format(what="part of your learning platform")
        )
    return platform


def accept(runtime: Runtime, launch: Launch, state: str, cookie: str | None) -> None:
    """Use up the nonce and the state in one transaction; on any failure nothing changes."""
    if cookie is not None and not secrets.compare_digest(cookie, state):
        raise not_authentic("state_cookie_mismatch")
    now = runtime.clock.now()
    with runtime.engine.begin() as connection:
        _use_nonce(connection, launch, now)
        _use_state(connection, launch, state, now)
        if not launch.known_deployment:  # a platform that adopts its deployments
            platforms.add_deployment(connection, launch.platform.id, launch.deployment_id, now)


def _use_nonce(connection: Connection, launch: Launch, now: datetime) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    keep_until = min(launch.expires_at + timedelta(minutes=5), now + NONCE_KEPT_AT_MOST)
    added = connection.execute(
        dialect.insert(NONCES)
        .values(nonce=launch.nonce, expires_at=max(keep_until, now + STATE_TTL))
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(NONCES.c.nonce)
    ).scalar()
    if added is None:
        raise not_authentic("replayed_nonce")


def _use_state(connection: Connection, launch: Launch, state: str, now: datetime) -> None:
    """The state must be ours, unexpired, for this platform, and carry the token's nonce."""
    nonce = connection.execute(
        delete(STATES)
        .where(
            STATES.c.state_hash == _hash(state),
            STATES.c.platform_id == launch.platform.id,
            STATES.c.expires_at >= now,
        )
        .returning(STATES.c.nonce)
    ).scalar()
    if nonce is None:
        raise not_authentic("unknown_state")
    if not secrets.compare_digest(nonce, launch.nonce):
        raise not_authentic("nonce_mismatch")
