"""bolt in Flask (one workspace, or many via OAuth): signatures, event de-duplication, Home tab."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from flask import Blueprint, Response, request
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.middleware import Middleware
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from integrations.slack import home
from integrations.slack.channel import SDK_LOG
from integrations.slack.replay import ReplayGuard, malformed, refused
from integrations.slack.settings import SlackSettings

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
# bolt logs a refused request's body at INFO and each answer's body at DEBUG (a modal's
# answer carries the requester's note): its own loggers stay at WARNING
BOLT_LOG = logging.getLogger(f"{__name__}.bolt")
BOLT_LOG.setLevel(logging.WARNING)

SEEN_CAPACITY = 10_000
SEEN_TTL = timedelta(hours=1)  # Slack's last retry comes about 5 minutes after the event
WEB_API_TIMEOUT_SECONDS = 3  # Slack waits 3 s for our answer; a slower call cannot help


class EventLedger(Protocol):
    """Which Slack events are handled already; a database-backed ledger can replace the default."""

    def claim(self, event_id: str) -> bool: ...

    def forget(self, event_id: str) -> None: ...


class SeenEvents:
    """Event ids handled in the last hour, in this process only, bounded in size.

    Good for one process. A database-backed store (the slack_events_seen table) replaces
    it for multi-process deployments, where a retry may reach another process.
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        capacity: int = SEEN_CAPACITY,
        ttl: timedelta = SEEN_TTL,
    ) -> None:
        self._now, self._capacity, self._ttl = now, capacity, ttl
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        """True the first time an event id arrives (within the TTL), False for a repeat."""
        now = self._now()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) <= now - self._ttl:
                self._seen.popitem(last=False)
            if event_id in self._seen:
                return False
            self._seen[event_id] = now
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True

    def forget(self, event_id: str) -> None:
        """A failed event is forgotten, so Slack's retry runs it again."""
        with self._lock:
            self._seen.pop(event_id, None)


class EventDeduplication(Middleware):
    """bolt does not de-duplicate Slack's retries; acknowledge a repeat and run nothing."""

    def __init__(self, ledger: EventLedger) -> None:
        self.ledger = ledger

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],  # bolt passes it by this name
    ) -> BoltResponse | None:
        event_id = req.body.get("event_id") if req.body else None
        if isinstance(event_id, str) and not self.ledger.claim(event_id):
            retry = req.headers.get("x-slack-retry-num", ["0"])[0]
            log.info("Slack event delivered again (retry %s): acknowledged, not run", retry)
            return BoltResponse(status=200, body="")
        return next()


class OneWorkspace(Middleware):
    """With one bot token, only its workspace is served: a request from any other (the app
    installed there as well, a Slack Connect guest) is acknowledged and not run."""

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],  # bolt passes it by this name
    ) -> BoltResponse | None:
        authorized = req.context.authorize_result
        ours = authorized.team_id if authorized is not None else None
        theirs = req.context.team_id
        if ours and theirs and theirs != ours:
            log.warning("Slack request from a workspace this bot token does not serve: not run")
            return BoltResponse(status=200, body="")
        return next()


def make_bolt_app(
    settings: SlackSettings,
    runtime: Runtime,
    ledger: EventLedger | None = None,
    *,
    oauth: OAuthSettings | None = None,
) -> App:
    """One bot token, or (with `oauth`) each workspace's installed bot; no Slack call at start.

    With OAuth the caller registers the uninstall clean-up, which needs the stores.
    """
    assert settings.signing_secret is not None
    assert oauth is not None or settings.bot_token is not None
    token = settings.bot_token.get_secret_value() if settings.bot_token is not None else None
    bolt_app = App(
        name="peerline-slack",
        signing_secret=settings.signing_secret.get_secret_value(),
        # no retries inside a request: Slack waits 3 s; the outbox retries deliveries instead
        client=WebClient(
            token=token,
            base_url=settings.api_url,
            timeout=WEB_API_TIMEOUT_SECONDS,
            retry_handlers=[],
            logger=SDK_LOG,  # slack_sdk's debug lines carry user ids and message text
        ),
        oauth_settings=oauth,
        process_before_response=True,
        token_verification_enabled=False,
        request_verification_enabled=True,
        logger=BOLT_LOG,  # its loggers take this level, whatever the root's
    )
    seen = ledger if ledger is not None else SeenEvents(runtime.clock.now)
    if oauth is None:
        bolt_app.use(OneWorkspace())
    bolt_app.use(EventDeduplication(seen))
    bolt_app.error(_error_handler(seen))
    home.register(bolt_app, runtime, settings)  # the Home tab and its buttons
    if oauth is None:
        bolt_app.event("app_uninstalled")(_access_lost)
        bolt_app.event("tokens_revoked")(_access_lost)
    return bolt_app


def blueprint(bolt_app: App, guard: ReplayGuard) -> Blueprint:
    """One URL for events, slash commands and interactivity, plus the OAuth pair when installing.

    bolt's handler serves the install page and the redirect by path, as OAuthSettings names them.
    A signed request runs once: `guard` answers a replay of it (see integrations.slack.replay).
    """
    bp = Blueprint("slack", __name__)
    handler = SlackRequestHandler(bolt_app)

    @bp.post("/slack/events")
    def events() -> Response:
        if malformed(request.headers):
            return refused()
        key = guard.key(request.get_data(), request.headers)
        if key is None:  # unsigned or stale: bolt refuses it
            return handler.handle(request)
        repeat = guard.repeat(key, request.headers)
        if repeat is not None:
            return repeat
        response = handler.handle(request)
        if response.status_code >= 500:
            guard.failed(key)
        return response

    def oauth_page() -> Response:
        return handler.handle(request)

    flow = bolt_app.oauth_flow
    if flow is not None:
        bp.add_url_rule(flow.install_path, "install", oauth_page, methods=["GET"])
        bp.add_url_rule(flow.redirect_uri_path, "oauth_redirect", oauth_page, methods=["GET"])
    return bp


def _error_handler(seen: EventLedger) -> Callable[[Exception, dict[str, Any]], None]:
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        event_id = body.get("event_id") if body else None
        if isinstance(event_id, str):
            seen.forget(event_id)
        log.error("Slack request failed (%s)", type(error).__name__, exc_info=error)

    return on_error


def _access_lost(event: dict[str, Any]) -> None:
    log.warning("Slack %s: the app no longer reaches its workspace", event.get("type"))
