"""A fake Canvas on loopback (TLS): OAuth2 for a developer key, the Scheduler, the Inbox.

    with FakeCanvas(certificates=c, client_id="10000000001", client_secret="s") as canvas:
        canvas.url                      # base URL, as LMS_CANVAS_URL
        canvas.reserve(slot_id, "4711") # a student reserves a slot (Canvas's own UI)
        canvas.unreserve(reservation)   # ... and deletes the reservation again
        canvas.groups, canvas.cancelled, canvas.messages, canvas.requests
        canvas.fail_next(429, retry_after="7"); canvas.throttle_next()
        canvas.expire_access_tokens()

OAuth2 as Canvas does it: `/login/oauth2/auth` consents at once for the PeerLine account
(a 302 back to the redirect URI with a one-time code), `/login/oauth2/token` grants codes
(same redirect URI) and refresh tokens, 1-hour opaque bearer tokens. The API accepts only
live access tokens (401 otherwise), checks form fields the way Canvas reads them, and
records every call. `refuse_refresh = True` answers refresh grants with `invalid_grant`.
"""

from __future__ import annotations

import itertools
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.fakes.botconnector import Fault, _json, _Served
from tests.fakes.smtp import Certificates

ACCOUNT = {"id": 1, "name": "PeerLine"}
THROTTLED = "throttled"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    form: dict[str, list[str]]


class FakeCanvas(_Served):
    """One Canvas account (the one that consents), its appointment groups and messages."""

    def __init__(self, *, certificates: Certificates, client_id: str, client_secret: str) -> None:
        super().__init__(certificates)
        self.client_id, self._secret = client_id, client_secret
        self.groups: dict[str, dict[str, Any]] = {}
        self.cancelled: dict[str, str] = {}  # deleted reservation id -> cancel_reason
        self.messages: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.token_grants: list[str] = []  # grant types asked for, in order
        self.refuse_refresh = False
        self.unauthorized = 0  # API calls answered 401 (a token unknown or expired)
        self._codes: dict[str, str] = {}  # code -> redirect_uri
        self._refresh: set[str] = set()
        self._access: set[str] = set()
        self._faults: deque[tuple[Fault, str]] = deque()
        self._lost: deque[tuple[int, str]] = deque()
        self._ids = itertools.count(101)
        self._routes = Map(
            [
                Rule("/login/oauth2/auth", endpoint="auth", methods=["GET"]),
                Rule("/login/oauth2/token", endpoint="token", methods=["POST"]),
                Rule("/api/v1/appointment_groups", endpoint="groups", methods=["GET", "POST"]),
                Rule("/api/v1/appointment_groups/<gid>", endpoint="group", methods=["GET", "PUT"]),
                Rule("/api/v1/calendar_events/<eid>", endpoint="event", methods=["DELETE"]),
                Rule("/api/v1/conversations", endpoint="message", methods=["POST"]),
            ]
        )

    # -- what a test does --------------------------------------------------------------------

    def fail_next(
        self, status: int, times: int = 1, retry_after: str | None = None, path: str = "/api/"
    ) -> None:
        """Answer the next `times` API calls (under `path`) with `status`, doing nothing."""
        with self._lock:
            self._faults.extend([(Fault(status, retry_after), path)] * times)

    def throttle_next(self, path: str = "/api/") -> None:
        """Answer the next API call as Canvas throttles: 403 "Rate Limit Exceeded"."""
        with self._lock:
            self._faults.append((Fault(403, THROTTLED), path))

    def lose_next_answer(self, status: int = 503, path: str = "/api/") -> None:
        """Do the next API call (under `path`), then answer `status` as if its answer was lost."""
        with self._lock:
            self._lost.append((status, path))

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access.clear()

    def slots(self, group_id: str) -> list[dict[str, Any]]:
        return list(self.groups[group_id]["appointments"])

    def all_slots(self) -> list[dict[str, Any]]:
        return [slot for group in self.groups.values() for slot in group["appointments"]]

    def reserve(self, slot_id: str, user_id: str) -> str:
        """A student reserves a slot in Canvas; returns the reservation's id."""
        with self._lock:
            slot = self._slot(slot_id)
            assert slot is not None, "no such slot"
            assert not slot["child_events"], "participants_per_appointment is 1"
            child = {
                "id": next(self._ids),
                "parent_event_id": slot["id"],
                "start_at": slot["start_at"],
                "end_at": slot["end_at"],
                "workflow_state": "active",
                "user": {"id": int(user_id), "name": f"Student {user_id}"},
            }
            slot["child_events"].append(child)
            return str(child["id"])

    def unreserve(self, reservation_id: str) -> None:
        """The student deletes their own reservation in Canvas."""
        with self._lock:
            for slot in self.all_slots():
                slot["child_events"] = [
                    c for c in slot["child_events"] if str(c["id"]) != reservation_id
                ]

    def calls(self, method: str, prefix: str = "/api/") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # -- serving ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        endpoint, args = self._routes.bind_to_environ(request.environ).match(method=request.method)
        if endpoint == "auth":
            return self._consent(request)
        if endpoint == "token":
            return self._token(request)
        form = {key: request.form.getlist(key) for key in request.form}
        form |= {key: request.args.getlist(key) for key in request.args}
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, form))
            fault = self._fault_for(request.path)
        if fault is not None:
            if fault.retry_after == THROTTLED:  # how Canvas throttles
                return Response("403 Forbidden (Rate Limit Exceeded)", 403)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return _json({"errors": [{"message": "scripted"}]}, fault.status, headers)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            if scheme != "Bearer" or token not in self._access:
                self.unauthorized += 1
                return _json({"errors": [{"message": "Invalid access token."}]}, 401)
            response = getattr(self, f"_{endpoint}")(request, args, form)
            lost = next((x for x in self._lost if request.path.startswith(x[1])), None)
            if lost is not None:
                self._lost.remove(lost)
        return response if lost is None else _json({"errors": [{"message": "lost"}]}, lost[0])

    def _fault_for(self, path: str) -> Fault | None:
        for scripted in self._faults:
            if path.startswith(scripted[1]):
                self._faults.remove(scripted)
                return scripted[0]
        return None

    def _consent(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return _json({"error": "invalid_client"}, 400)
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = args["redirect_uri"]
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def _token(self, request: Request) -> Response:
        form = request.form
        with self._lock:
            self.token_grants.append(str(form.get("grant_type")))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self._secret:
            return _json({"error": "invalid_client", "error_description": "unknown key"}, 401)
        with self._lock:
            if form.get("grant_type") == "authorization_code":
                redirect = self._codes.pop(str(form.get("code")), None)
                if redirect is None or redirect != form.get("redirect_uri"):
                    return _json({"error": "invalid_grant", "error_description": "bad code"}, 400)
                refresh = secrets.token_urlsafe(24)
                self._refresh.add(refresh)
                return _json(self._grant(refresh_token=refresh))
            if form.get("grant_type") == "refresh_token":
                if self.refuse_refresh or form.get("refresh_token") not in self._refresh:
                    description = "refresh_token not found"
                    return _json({"error": "invalid_grant", "error_description": description}, 400)
                return _json(self._grant())
        return _json({"error": "unsupported_grant_type"}, 400)

    def _grant(self, **extra: str) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        self._access.add(access)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "user": ACCOUNT,
            "expires_in": 3600,
            **extra,
        }

    def _groups(self, request: Request, _args: dict[str, str], form: dict[str, Any]) -> Response:
        if request.method == "GET":
            wanted = set(form.get("context_codes[]", []))
            found = [g for g in self.groups.values() if wanted & set(g["context_codes"])]
            return _json([_without_children(g) for g in found])
        key = "appointment_group"
        group = {
            "id": next(self._ids),
            "title": _one(form, f"{key}[title]"),
            "description": _one(form, f"{key}[description]"),
            "context_codes": form.get(f"{key}[context_codes][]", []),
            "participants_per_appointment": int(_one(form, f"{key}[participants_per_appointment]")),
            "max_appointments_per_participant": int(
                _one(form, f"{key}[max_appointments_per_participant]")
            ),
            "participant_visibility": _one(form, f"{key}[participant_visibility]"),
            "workflow_state": "active" if _one(form, f"{key}[publish]") == "true" else "pending",
            "appointments": [],
        }
        if not group["title"] or not group["context_codes"]:
            return _json({"errors": {"title": [{"message": "required"}]}}, 400)
        self.groups[str(group["id"])] = group
        self._add_slots(group, form)
        return _json(_without_children(group), 201)

    def _group(self, request: Request, args: dict[str, str], form: dict[str, Any]) -> Response:
        group = self.groups.get(args["gid"])
        if group is None:
            return _json({"errors": [{"message": "The specified resource does not exist."}]}, 404)
        if request.method == "PUT":
            self._add_slots(group, form)
            return _json(_without_children(group))
        if "child_events" in form.get("include[]", []):
            return _json(group)
        return _json(_without_children(group))

    def _event(self, _request: Request, args: dict[str, str], form: dict[str, Any]) -> Response:
        event_id = args["eid"]
        for group in self.groups.values():
            for slot in list(group["appointments"]):
                if str(slot["id"]) == event_id:
                    group["appointments"].remove(slot)
                    return _json(slot)
                for child in list(slot["child_events"]):
                    if str(child["id"]) == event_id:
                        slot["child_events"].remove(child)
                        self.cancelled[event_id] = _one(form, "cancel_reason")
                        return _json(child)
        return _json({"errors": [{"message": "The specified resource does not exist."}]}, 404)

    def _message(self, _request: Request, _args: dict[str, str], form: dict[str, Any]) -> Response:
        self.messages.append(
            {
                "recipients": form.get("recipients[]", []),
                "subject": _one(form, "subject"),
                "body": _one(form, "body"),
                "group_conversation": _one(form, "group_conversation"),
                "context_code": _one(form, "context_code"),
            }
        )
        return _json([{"id": len(self.messages), "subject": _one(form, "subject")}], 201)

    def _add_slots(self, group: dict[str, Any], form: dict[str, Any]) -> None:
        prefix = "appointment_group[new_appointments]["
        for key in sorted(k for k in form if k.startswith(prefix)):
            start, end = form[key]
            group["appointments"].append(
                {
                    "id": next(self._ids),
                    "appointment_group_id": group["id"],
                    "start_at": start,
                    "end_at": end,
                    "workflow_state": "active",
                    "child_events": [],
                }
            )

    def _slot(self, slot_id: str) -> dict[str, Any] | None:
        return next((s for s in self.all_slots() if str(s["id"]) == slot_id), None)


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0]


def _without_children(group: dict[str, Any]) -> dict[str, Any]:
    slots = [{k: v for k, v in s.items() if k != "child_events"} for s in group["appointments"]]
    return {**group, "appointments": slots}
