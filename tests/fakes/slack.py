"""A fake Slack Web API on loopback, so slack_sdk's own HTTP code runs in tests.

    with FakeSlack(token="xoxb-test") as slack:
        client = WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])
        client.chat_postMessage(channel="D123", text="hi")
        slack.calls("chat.postMessage")[0].params["text"]

It speaks the wire format: POST /api/<method>, form-encoded, multipart or JSON bodies,
`Authorization: Bearer <token>` (Basic for oauth.v2.access), `{"ok": ...}` answers.
Scripted faults apply to the next call(s) of a method: `fail(method, error)`,
`rate_limit(method, retry_after)` (HTTP 429 + Retry-After), `server_error(method)` (500),
and `stall(method, accepted=...)`: the call hangs until `release()` (`stalled` is set once one
does), past any client timeout; unanswered and never carried out, or, with `accepted=True`,
carried out (the message posted) with only the answer held, the hard case for exactly-once.
The upload URL that files.getUploadURLExternal hands out is served here too (method UPLOAD),
and so are slash commands' response URLs (`response_url(key)`, recorded as RESPOND): what the
app says to one person after answering Slack. `wait_for(method)` waits for work the app does
after its HTTP answer (the /peer form, opened on a background thread).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from tests.live_server import QuietRequestHandler

HOST = "127.0.0.1"
UPLOAD = "files.upload"  # the upload URL's pseudo-method, for scripting faults
RESPOND = "response_url"  # a slash command's response URL, as a pseudo-method
WAIT_SECONDS = 10  # an upper bound for work after the answer, polled, never slept through
HOLD_LIMIT_SECONDS = 60  # a stalled call is answered after this even if never released
Handler = Callable[["FakeSlack", dict[str, Any]], dict[str, Any]]
_RUNNING: dict[str, FakeSlack] = {}  # by Web API base URL, while serving


@dataclass(frozen=True)
class Call:
    """One request as the server saw it: the method, every parameter, the headers."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    hold: Literal["before", "after"] | None = None  # stall: before or after carrying it out


@dataclass(frozen=True)
class Upload:
    """A file that reached a channel: uploaded, then completed with files.completeUploadExternal."""

    file_id: str
    filename: str
    title: str
    content: bytes
    channel: str


class FakeSlack:
    """Answers like Slack; records each call; fails on request, for the next call(s) only."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",  # noqa: S107 - a fake's, valid nowhere else
        time_zones: dict[str, str] | None = None,
        installation: dict[str, Any] | None = None,
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
    ) -> None:
        """`time_zones` maps user ids to what users.info says (default Europe/London)."""
        self.token = token
        self.time_zones = time_zones or {}
        self.team_id, self.bot_user_id = team_id, bot_user_id
        self.installation = installation or default_installation(team_id, bot_user_id)
        self._calls: list[Call] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._pending: dict[str, dict[str, Any]] = {}  # file id -> filename (and content)
        self._uploads: list[Upload] = []
        self._posted: list[dict[str, Any]] = []
        self._counter = 0
        self._lock = threading.Lock()
        self._called = threading.Condition(self._lock)
        self.stalled = threading.Event()  # a call is being held
        self._released = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def serving(cls, url: str) -> FakeSlack:
        """The running fake whose Web API base is `url` (as an app's WebClient knows it)."""
        return _RUNNING[url]

    def __enter__(self) -> FakeSlack:
        self._server = make_server(
            HOST,
            0,
            Request.application(self._answer),
            threaded=True,
            request_handler=QuietRequestHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        _RUNNING[self.url] = self
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._server is not None and self._thread is not None
        _RUNNING.pop(self.url, None)
        self._released.set()  # no request thread may stay held
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def origin(self) -> str:
        assert self._server is not None, "use FakeSlack as a context manager"
        return f"http://{HOST}:{self._server.server_port}"

    @property
    def url(self) -> str:
        """The Web API base URL, as WebClient(base_url=...) wants it: ending in /api/."""
        return f"{self.origin}/api/"

    def fail(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """The next call(s) answer HTTP 200 with `{"ok": false, "error": error}`."""
        self._script(method, Fault(error=error), times)

    def rate_limit(self, method: str, retry_after: int = 7, times: int = 1) -> None:
        """The next call(s) answer HTTP 429 with Retry-After, as Slack's rate limiter does."""
        self._script(method, Fault(429, "ratelimited", retry_after), times)

    def server_error(self, method: str, status: int = 500, times: int = 1) -> None:
        """The next call(s) answer a bare HTTP 5xx, as a proxy or an outage would."""
        self._script(method, Fault(status), times)

    def stall(self, method: str, *, accepted: bool = False, times: int = 1) -> None:
        """The next call(s) hang until release(); `accepted`: carried out before hanging."""
        self._released.clear()
        self.stalled.clear()
        self._script(method, Fault(hold="after" if accepted else "before"), times)

    def release(self) -> None:
        """Let stalled calls finish: an accepted one gets its answer, another a 503."""
        self._released.set()

    def _script(self, method: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._faults[method].extend([fault] * times)

    def calls(self, method: str | tuple[str, ...] | None = None) -> list[Call]:
        """Every call so far, or those of one method (or of several)."""
        with self._lock:
            return self._made(method)

    def wait_for(
        self, method: str | tuple[str, ...], count: int = 1, timeout: float = WAIT_SECONDS
    ) -> list[Call]:
        """The calls of `method` (or methods) once there are `count`, or all after `timeout`."""
        with self._called:
            self._called.wait_for(lambda: len(self._made(method)) >= count, timeout)
            return self._made(method)

    def _made(self, method: str | tuple[str, ...] | None) -> list[Call]:
        methods = (method,) if isinstance(method, str) else method
        return [c for c in self._calls if methods is None or c.method in methods]

    def response_url(self, key: str) -> str:
        """A slash command's response URL: what is posted to it is a call of RESPOND."""
        return f"{self.origin}/respond/{key}"

    @property
    def uploads(self) -> list[Upload]:
        with self._lock:
            return list(self._uploads)

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        """What chat.postMessage put into the user's DM with the bot, oldest first."""
        with self._lock:
            return [m for m in self._posted if m["channel"] == dm_of(user_id)]

    def post(self, params: dict[str, Any]) -> str:
        """Keep a message Slack accepted; its ts."""
        with self._lock:
            self._counter += 1
            ts = f"{1_700_000_000 + self._counter}.000100"
            self._posted.append({**params, "posted_ts": ts})
            return ts

    def uploads_to(self, user_id: str) -> list[Upload]:
        return [u for u in self.uploads if u.channel == dm_of(user_id)]

    def _answer(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/upload/"):
            return self._receive_upload(request, path.rsplit("/", 1)[-1])
        if path.startswith("/respond/") and request.method == "POST":
            self._record(Call(RESPOND, _params(request), dict(request.headers.items())))
            return Response("ok", mimetype="text/plain")  # Slack's answer to a response_url
        if request.method != "POST" or not path.startswith("/api/"):
            return Response("not found", status=404)
        method = path.removeprefix("/api/")
        params = _params(request)
        with self._lock:
            self._calls.append(Call(method, params, dict(request.headers.items())))
            self._called.notify_all()
            fault = self._next_fault(method)
        if fault is not None and fault.hold == "after":
            answer = self._carry_out(method, request, params)
            self._hold()
            return answer
        if fault is not None and fault.hold == "before":
            self._hold()
            return _fault_response(Fault(503))
        if fault is not None:
            return _fault_response(fault)
        return self._carry_out(method, request, params)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._called.notify_all()

    def _hold(self) -> None:
        self.stalled.set()
        self._released.wait(HOLD_LIMIT_SECONDS)

    def _carry_out(self, method: str, request: Request, params: dict[str, Any]) -> Response:
        handler = HANDLERS.get(method)
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"})
        refused = self._check_auth(method, request, params)
        if refused is not None:
            return _json({"ok": False, "error": refused})
        return _json(handler(self, params))

    def _next_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    def _check_auth(self, method: str, request: Request, params: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if method == "oauth.v2.access":
            return (
                None if header.startswith("Basic ") or "client_id" in params else "invalid_client"
            )
        token = (
            header.removeprefix("Bearer ") if header.startswith("Bearer ") else params.get("token")
        )
        if not token:
            return "not_authed"
        return None if token == self.token else "invalid_auth"

    def _receive_upload(self, request: Request, file_id: str) -> Response:
        content = request.get_data()
        with self._lock:
            self._calls.append(Call(UPLOAD, {"file_id": file_id}, dict(request.headers)))
            self._called.notify_all()
            fault = self._next_fault(UPLOAD)
            pending = self._pending.get(file_id)
            if fault is None and pending is not None:
                pending["content"] = content
        if fault is not None:
            return Response("failed", status=fault.status if fault.status != 200 else 500)
        if pending is None:
            return Response("unknown upload", status=404)
        return Response(f"OK - {len(content)}", mimetype="text/plain")

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter:08d}"

    def start_upload(self, params: dict[str, Any]) -> str:
        file_id = self.next_id("F")
        with self._lock:
            self._pending[file_id] = {"filename": str(params.get("filename", ""))}
        return file_id

    def complete_uploads(self, files: list[dict[str, Any]], channel: str) -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = []
        with self._lock:
            for item in files:
                pending = self._pending.pop(str(item.get("id")), None)
                if pending is None or "content" not in pending:
                    return []
                title = str(item.get("title") or pending["filename"])
                upload = Upload(item["id"], pending["filename"], title, pending["content"], channel)
                self._uploads.append(upload)
                done.append({"id": upload.file_id, "name": upload.filename, "title": title})
        return done


def dm_of(user_id: str) -> str:
    """The bot's DM with a user: stable, as Slack's is."""
    return f"D{user_id}"


def default_installation(team_id: str, bot_user_id: str) -> dict[str, Any]:
    """What oauth.v2.access answers for a bot install, shaped like Slack's real answer."""
    return {
        "ok": True,
        "app_id": "A0APP",
        "authed_user": {"id": "U0INSTALLER"},
        "scope": "chat:write,im:write,im:history,commands,users:read,files:write",
        "token_type": "bot",
        "access_token": "xoxb-installed-token",
        "bot_user_id": bot_user_id,
        "team": {"id": team_id, "name": "Acme"},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def _params(request: Request) -> dict[str, Any]:
    """Query string, form fields (urlencoded or multipart) and a JSON body, merged."""
    params: dict[str, Any] = dict(request.args.items())
    params.update(request.form.items())
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            params.update(body)
    for nested in ("blocks", "view", "files"):  # JSON strings in form bodies
        if isinstance(params.get(nested), str):
            params[nested] = json.loads(params[nested])
    basic = request.headers.get("Authorization", "")
    if basic.startswith("Basic "):
        client_id, _, _ = base64.b64decode(basic[6:]).decode().partition(":")
        params.setdefault("client_id", client_id)
    return params


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _fault_response(fault: Fault) -> Response:
    if fault.status == 429:
        headers = {"Retry-After": str(fault.retry_after or 1)}
        return _json({"ok": False, "error": "ratelimited"}, 429, headers)
    if fault.status >= 500:
        return Response(
            "<html>Service Unavailable</html>", status=fault.status, mimetype="text/html"
        )
    return _json({"ok": False, "error": fault.error})


def _auth_test(fake: FakeSlack, _params: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": "https://acme.slack.com/",
        "team": "Acme",
        "user": "peerline",
        "team_id": fake.team_id,
        "user_id": fake.bot_user_id,
        "bot_id": "B0BOT",
        "is_enterprise_install": False,
    }


def _conversations_open(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    users = [u for u in str(params.get("users", "")).split(",") if u]
    if len(users) != 1:
        return _no("users_list_not_supplied" if not users else "not_supported")
    if users[0] == fake.bot_user_id:
        return _no("cannot_dm_bot")
    return {"ok": True, "channel": {"id": dm_of(users[0])}}


def _post_message(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    refused = _check_message(params)
    if refused is not None:
        return _no(refused)
    ts = fake.post(params)
    message = {"type": "message", "text": params.get("text", ""), "ts": ts, "bot_id": "B0BOT"}
    return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}


def _update(_fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    refused = _check_message(params) or (None if params.get("ts") else "message_not_found")
    if refused is not None:
        return _no(refused)
    return {"ok": True, **{key: params.get(key) for key in ("channel", "ts", "text")}}


def _post_ephemeral(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    refused = _check_message(params) or (None if params.get("user") else "user_not_found")
    if refused is not None:
        return _no(refused)
    return {"ok": True, "message_ts": f"{1_700_000_000 + int(fake.next_id('')):d}.000200"}


def _view(fake: FakeSlack, params: dict[str, Any], needs: str) -> dict[str, Any]:
    view = params.get("view")
    if not params.get(needs) or not isinstance(view, dict) or "type" not in view:
        return _no("invalid_arguments")
    if _blocks_refused(view.get("blocks", [])):
        return _no("invalid_blocks")
    return {"ok": True, "view": {"id": params.get("view_id") or fake.next_id("V"), **view}}


def _users_info(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    user = str(params.get("user", ""))
    if not user:
        return _no("user_not_found")
    tz = fake.time_zones.get(user, "Europe/London")
    profile = {"display_name": "", "real_name": ""}  # names are no business of a fake
    return {"ok": True, "user": {"id": user, "team_id": fake.team_id, "tz": tz, "profile": profile}}


def _get_upload_url(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("filename") or not str(params.get("length", "")).isdigit():
        return _no("invalid_arguments")
    file_id = fake.start_upload(params)
    return {"ok": True, "upload_url": f"{fake.origin}/upload/v1/{file_id}", "file_id": file_id}


def _complete_upload(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    files = params.get("files")
    if not isinstance(files, list) or not files:
        return _no("invalid_arguments")
    done = fake.complete_uploads(files, str(params.get("channel_id") or ""))
    return {"ok": True, "files": done} if done else _no("file_not_found")


def _oauth_access(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("code") and not params.get("refresh_token"):
        return _no("invalid_code")
    return dict(fake.installation)


def _no(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _check_message(params: dict[str, Any]) -> str | None:
    """The refusals our code could provoke: no channel, nothing to say, malformed blocks."""
    if not params.get("channel"):
        return "channel_not_found"
    blocks = params.get("blocks")
    if not params.get("text") and not blocks:
        return "no_text"
    return "invalid_blocks" if blocks and _blocks_refused(blocks) else None


def _blocks_refused(blocks: Any) -> bool:
    """Block Kit limits Slack enforces: at most 50 blocks, typed, texts within their caps."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return True
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return True
        text = (block.get("text") or {}).get("text", "")
        limit = 150 if block["type"] == "header" else 3000
        if len(text) > limit or len(block.get("fields", [])) > 10:
            return True
        for element in block.get("elements", []):
            if len(str(element.get("value", ""))) > 2000:
                return True
    return False


HANDLERS: dict[str, Handler] = {
    "auth.test": _auth_test,
    "conversations.open": _conversations_open,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "views.open": lambda fake, p: _view(fake, p, "trigger_id"),
    "views.update": lambda fake, p: _view(fake, p, "view_id" if "view_id" in p else "external_id"),
    "views.publish": lambda fake, p: _view(fake, p, "user_id"),
    "users.info": _users_info,
    "files.getUploadURLExternal": _get_upload_url,
    "files.completeUploadExternal": _complete_upload,
    "oauth.v2.access": _oauth_access,
}
