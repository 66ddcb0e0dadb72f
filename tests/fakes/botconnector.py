"""A fake Entra ID token endpoint and a fake Bot Connector on loopback, so msal and our
requests code run for real in tests.

    certificates = make_certificates(tmp_path)          # msal insists on https authorities
    with FakeEntraID(tenant_id="t1", client_id="app", client_secret="s3cret",
                     certificates=certificates) as aad,
         FakeBotConnector(aad, certificates=certificates) as connector:
        ... TokenProvider(authority_host=aad.url, http_client=<session verifying ca_file>) ...
        connector.activities["a:1"]; aad.token_requests

Entra ID: OIDC discovery at /{tenant}/v2.0/.well-known/openid-configuration and the token
endpoint /{tenant}/oauth2/v2.0/token (client_credentials, client_secret_post), which issues
opaque tokens. The Bot Connector accepts only tokens that endpoint issued for the connector's
scope; `fail_next(status, times, retry_after)` scripts the next answers (429, 500, 401, 404),
and `stall_next(accepted=...)` holds the next call until `release()`, past any client timeout:
unanswered and never carried out, or, with `accepted=True`, carried out (the activity posted)
with only the answer held, the hard case for exactly-once.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.smtp import Certificates
from tests.live_server import QuietRequestHandler

HOST = "127.0.0.1"
CONNECTOR_SCOPE = "https://api.botframework.com/.default"
HOLD_LIMIT_SECONDS = 60  # a stalled call is answered after this even if never released


@contextmanager
def serve(app: Any, certificates: Certificates | None) -> Iterator[str]:
    """Serve a WSGI app on an ephemeral loopback port (https when given certificates)."""
    context = certificates.server_context() if certificates is not None else None
    server = make_server(
        HOST, 0, app, threaded=True, request_handler=QuietRequestHandler, ssl_context=context
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"{'https' if context else 'http'}://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")


class _Served:
    """Context-manager plumbing shared by both fakes: start on enter, stop on exit."""

    url = ""

    def __init__(self, certificates: Certificates | None) -> None:
        self._certificates = certificates
        self._stack = ExitStack()
        self._lock = threading.Lock()

    def __enter__(self) -> Any:
        self.url = self._stack.enter_context(serve(self._wsgi, self._certificates))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.handle(request)
        except HTTPException as error:
            response = _json({"error": error.name}, error.code or 500)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        raise NotImplementedError


class FakeEntraID(_Served):
    """One tenant, one app registration, client-credential grants only."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        certificates: Certificates,
    ) -> None:
        super().__init__(certificates)
        self.tenant_id, self.client_id, self._secret = tenant_id, client_id, client_secret
        self.token_requests = 0
        self.discovery_requests = 0
        self._issued: dict[str, str] = {}  # token -> scope
        self._routes = Map(
            [
                Rule("/<tenant>/v2.0/.well-known/openid-configuration", endpoint="discovery"),
                Rule("/<tenant>/oauth2/v2.0/token", endpoint="token", methods=["POST"]),
            ]
        )

    def issued(self, token: str, scope: str) -> bool:
        """Whether this endpoint issued `token` for `scope`."""
        with self._lock:
            return self._issued.get(token) == scope

    def handle(self, request: Request) -> Response:
        endpoint, args = self._routes.bind_to_environ(request.environ).match()
        if args["tenant"] != self.tenant_id:
            return _json({"error": "invalid_tenant"}, 400)
        if endpoint == "discovery":
            return self._discovery()
        return self._token(request)

    def _discovery(self) -> Response:
        with self._lock:
            self.discovery_requests += 1
        base = f"{self.url}/{self.tenant_id}"
        return _json(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
            }
        )

    def _token(self, request: Request) -> Response:
        form = request.form
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self._secret:
            description = "AADSTS7000215: Invalid client secret provided."
            return _json({"error": "invalid_client", "error_description": description}, 401)
        token, scope = secrets.token_urlsafe(32), str(form.get("scope", ""))
        with self._lock:
            self._issued[token] = scope
        return _json({"token_type": "Bearer", "expires_in": 3599, "access_token": token})


@dataclass(frozen=True)
class Fault:
    """One scripted answer: an HTTP status and, for 429, a Retry-After value."""

    status: int
    retry_after: str | None = None
    hold: Literal["before", "after"] | None = None  # stall: before or after carrying it out


class FakeBotConnector(_Served):
    """Bot Connector v3: conversations, activities in them, updates to activities."""

    def __init__(self, aad: FakeEntraID, *, certificates: Certificates | None) -> None:
        super().__init__(certificates)
        self._aad = aad
        self.activities: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.conversations: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.created: list[dict[str, Any]] = []  # bodies of 1:1 chats the bot opened
        self.installed_for: set[str] | None = None  # who has the app; None: everyone
        self._faults: deque[Fault] = deque()
        self.stalled = threading.Event()  # a call is being held
        self._released = threading.Event()
        self._routes = Map(
            [
                Rule("/v3/conversations", endpoint="create", methods=["POST"]),
                Rule("/v3/conversations/<cid>/activities", endpoint="send", methods=["POST"]),
                Rule(
                    "/v3/conversations/<cid>/activities/<aid>", endpoint="update", methods=["PUT"]
                ),
            ]
        )

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` calls with `status` (and Retry-After, if given)."""
        with self._lock:
            self._faults.extend([Fault(status, retry_after)] * times)

    def stall_next(self, *, accepted: bool = False, times: int = 1) -> None:
        """Hold the next `times` calls until release(); `accepted`: carried out first."""
        self._released.clear()
        self.stalled.clear()
        with self._lock:
            self._faults.extend([Fault(503, hold="after" if accepted else "before")] * times)

    def release(self) -> None:
        """Let stalled calls finish: an accepted one gets its answer, another a 503."""
        self._released.set()

    def __exit__(self, *exc: object) -> None:
        self._released.set()  # no request thread may stay held
        super().__exit__(*exc)

    def open_conversation(self, conversation_id: str) -> None:
        """A conversation that exists already (a chat the user had with the bot)."""
        with self._lock:
            self.conversations[conversation_id] = {}

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.calls += 1
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.hold == "after":
            answer = self._carry_out(request)
            self._hold()
            return answer
        if fault is not None:
            if fault.hold == "before":
                self._hold()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return _json({"error": {"code": "Scripted"}}, fault.status, headers)
        return self._carry_out(request)

    def _hold(self) -> None:
        self.stalled.set()
        self._released.wait(HOLD_LIMIT_SECONDS)

    def _carry_out(self, request: Request) -> Response:
        if not self._authorized(request):
            return _json({"message": "Authorization has been denied for this request."}, 401)
        endpoint, args = self._routes.bind_to_environ(request.environ).match()
        body = request.get_json(force=True)
        with self._lock:
            if endpoint == "create":
                return self._create(body)
            if args["cid"] not in self.conversations:
                return _json({"error": {"code": "ConversationNotFound"}}, 404)
            if endpoint == "send":
                return self._send(args["cid"], body)
            return self._update(args["cid"], args["aid"], body)

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and self._aad.issued(token, CONNECTOR_SCOPE)

    def _create(self, body: dict[str, Any]) -> Response:
        members = body.get("members") or [{}]
        if self.installed_for is not None and members[0].get("id") not in self.installed_for:
            message = "The bot is not part of the conversation roster."
            return _json({"error": {"code": "BotNotInConversationRoster", "message": message}}, 403)
        self.created.append(body)
        conversation_id = f"a:{members[0].get('id', '')}"
        self.conversations[conversation_id] = body
        return _json({"id": conversation_id}, 201)

    def _send(self, conversation_id: str, body: dict[str, Any]) -> Response:
        activity_id = f"1:{len(self.activities[conversation_id]) + 1}"
        self.activities[conversation_id].append({**body, "id": activity_id})
        return _json({"id": activity_id}, 201)

    def _update(self, conversation_id: str, activity_id: str, body: dict[str, Any]) -> Response:
        posted = self.activities[conversation_id]
        for index, activity in enumerate(posted):
            if activity["id"] == activity_id:
                posted[index] = {**body, "id": activity_id}
                return _json({"id": activity_id})
        return _json({"error": {"code": "ActivityNotFound"}}, 404)
