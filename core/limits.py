"""Rate limits on the anonymous ways in, so guessing tokens and flooding the intake are slow.

Flask-Limiter counts in Redis when PEERLINE_REDIS_URL is set (every app process shares the
counters), else in this process's memory. Counters are keyed on keyed hashes of the client
address, token or e-mail, never the values themselves, so neither Redis nor a log line holds
them. If Redis stops answering, counting goes on in memory and the app keeps answering.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask, Response, current_app, g, render_template_string, request
from flask_limiter import Limiter, RateLimitExceeded, RouteLimit
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.config import Settings
from core.crypto import API_TOKEN_PREFIX
from core.runtime import runtime

Kind = Literal["intake", "lookup", "token", "feed", "lti", "sign_in"]
EXTENSION = "peerline_limits"
API_PREFIX = "/api/"
STAFF_CALLER = "peerline_staff_caller"  # on flask.g: this request's answer

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Please wait a moment</title></head>
<body><main>
<h1>Please wait a moment</h1>
<p role="alert">PeerLine had too many requests from your network in a short time, so it is
pausing for a moment. Nothing you did was lost or changed.</p>
<p>Please try again in {{ seconds }} seconds.</p>
<p><strong>PeerLine is not a crisis service.</strong> If you are in danger or need help right
now, call your local emergency number, or find a free helpline in your country at
<a href="https://findahelpline.com/">findahelpline.com</a>.</p>
</main></body>
</html>
"""


@dataclass(frozen=True)
class Limits:
    """The app's limiter, its settings, and the key that hides what the counters are keyed on."""

    limiter: Limiter
    settings: Settings
    key: bytes


def init_app(app: Flask) -> None:
    """Set up the limiter and limit the core's anonymous endpoints (plugins call `protect`)."""
    settings = runtime(app).settings
    if not settings.rate_limits_enabled:
        return
    assert settings.secret_key is not None, "create_app always sets a secret key"
    limiter = Limiter(
        key_func=_address,
        storage_uri=settings.redis_url or "memory://",
        storage_options=_redis_options() if settings.redis_url else {},
        strategy="fixed-window",
        key_prefix="peerline",
        in_memory_fallback_enabled=settings.redis_url is not None,  # Redis down: count here
        swallow_errors=True,
        headers_enabled=False,  # Retry-After goes on the 429 only, not on every answer
    )
    limiter.init_app(app)
    secret = settings.secret_key.get_secret_value().encode()
    key = hmac.new(secret, b"peerline rate limit keys", hashlib.sha256).digest()
    app.extensions[EXTENSION] = Limits(limiter, settings, key)
    app.register_error_handler(RateLimitExceeded, _too_many)
    for endpoint, kind in _api_endpoints(app):
        protect(app, endpoint, kind)
    protect(app, "console.sign_in_post", "sign_in")


def protect(app: Flask, endpoint: str, kind: Kind) -> None:
    """Limit an anonymous endpoint (a plugin's too) as one of the kinds; no-op with limits off.

    `token` and `feed` endpoints are counted per secret token as well as per address: the
    token is the `token` part of the URL, else the bearer token.
    """
    limits: Limits | None = app.extensions.get(EXTENSION)
    if limits is None:
        return
    view: Callable[..., Any] = app.view_functions[endpoint]
    for limit in _limits_of(limits, kind):
        view = limit(view)
    app.view_functions[endpoint] = view


def _limits_of(limits: Limits, kind: Kind) -> list[RouteLimit]:
    settings, limiter = limits.settings, limits.limiter
    per_address = {
        "intake": settings.rate_limit_intake,
        "lookup": settings.rate_limit_lookup,
        "token": settings.rate_limit_token,
        "feed": settings.rate_limit_feed,
        "lti": settings.rate_limit_lti,
        "sign_in": settings.rate_limit_sign_in,
    }[kind]
    found = [limiter.shared_limit(per_address, kind, exempt_when=_staff_caller)]
    if kind in ("token", "feed"):
        found.append(
            limiter.shared_limit(
                settings.rate_limit_per_token,
                "per-token",
                key_func=_token,
                exempt_when=_staff_caller,
            )
        )
    if kind == "sign_in":
        found.append(
            limiter.shared_limit(settings.rate_limit_sign_in_account, "account", key_func=_account)
        )
    return found


def _api_endpoints(app: Flask) -> list[tuple[str, Kind]]:
    """The API operations open to anonymous callers or requester tokens, by what they do."""
    from core.api import BLUEPRINTS, PREFIX  # the API imports much; keep start-up order clear
    from core.api.framework import ANONYMOUS, REQUESTER

    kinds: dict[tuple[str, str], Kind] = {}
    for blueprint in BLUEPRINTS:
        for op in blueprint.operations:
            if ANONYMOUS in op.roles:
                kinds[PREFIX + op.rule, op.method] = "intake" if op.method == "POST" else "lookup"
            elif REQUESTER in op.roles:
                kinds[PREFIX + op.rule, op.method] = "token"
    return [
        (rule.endpoint, kinds[rule.rule, method])
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if (rule.rule, method) in kinds
    ]


def _hidden(value: str) -> str:
    """A keyed hash: counters never hold an address, a token or an e-mail address."""
    limits: Limits = current_app.extensions[EXTENSION]
    return hmac.new(limits.key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _address() -> str:
    """The client's address: the real one behind PEERLINE_TRUST_PROXY_HOPS (ProxyFix)."""
    return _hidden("address:" + (request.remote_addr or "unknown"))


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _token() -> str:
    token = (request.view_args or {}).get("token") or _bearer()
    return _hidden("token:" + token) if token else _address()


def _account() -> str:
    email = request.form.get("email", "").strip().lower()
    return _hidden("account:" + email) if email else _address()


def _staff_caller() -> bool:
    """Staff and integrations calling with a valid API token are known: they are not limited.

    Asked once per limit on the endpoint; the token is looked up once per HTTP request.
    """
    if STAFF_CALLER not in g:
        setattr(g, STAFF_CALLER, _looked_up_staff_caller())
    return bool(getattr(g, STAFF_CALLER))


def _looked_up_staff_caller() -> bool:
    """Looked up in a session of its own, closed at once: the request's session must not hold
    a transaction (on SQLite, the write lock) while the view and its plugins open others.
    """
    from core.services import tokens

    token = _bearer()
    if not token.startswith(API_TOKEN_PREFIX):
        return False
    try:
        with Session(runtime().engine) as session:
            return tokens.api_caller(session, token) is not None
    except SQLAlchemyError:
        # the database is down, so the token cannot be checked; the view will answer 503
        # whatever happens, and a caller who may well be an integration is not also counted
        return True


def _too_many(error: RateLimitExceeded) -> Response:
    """The API's JSON error, or a page saying when to try again; both with Retry-After."""
    seconds = _retry_after(error)
    if request.path.startswith(API_PREFIX):
        from core.api.framework import error_response
        from core.errors import PeerLineError

        problem = PeerLineError(f"too many requests; try again in {seconds} seconds")
        problem.status, problem.code = 429, "too_many_requests"
        response, _ = error_response(problem)
        response.status_code = 429
    else:
        html = render_template_string(PAGE, seconds=seconds)
        response = Response(html, status=429, mimetype="text/html")
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    return response


def _retry_after(error: RateLimitExceeded) -> int:
    """Seconds until the breached window ends (its whole length if the store cannot say)."""
    limits: Limits = current_app.extensions[EXTENSION]
    try:
        breached = limits.limiter.current_limit
        reset = breached.window.reset_time if breached is not None else None
    except Exception:  # the store went away between the hit and now
        reset = None
    if reset is None:
        return int(error.limit.limit.get_expiry())
    return max(1, math.ceil(reset - time.time()))


def _redis_options() -> dict[str, str | int]:
    """Give up on Redis within a second, so a hung Redis costs a request little."""
    return {"socket_connect_timeout": 1, "socket_timeout": 1}
