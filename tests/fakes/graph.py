"""A fake Microsoft Graph on loopback (TLS): users' calendars, events and getSchedule.

    with FakeEntraID(...) as aad, FakeGraph(aad, certificates=c, mailboxes={"aad-ash": "a@x"}):
        GraphClient(tokens=..., base_url=graph.base_url, session=<session trusting c.ca_file>)
        graph.events["aad-ash"]; graph.requests; graph.fail_next(429, retry_after="7")

It accepts only tokens the fake Entra ID issued for Graph's scope, and records every request.
Like Graph, a POST carrying a `transactionId` it has seen for that calendar answers with the
event made the first time instead of making another. `lose_next_answer(503)` makes the event
and then answers 503, as when a response is lost on the way back.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.fakes.botconnector import FakeEntraID, Fault, _json, _Served
from tests.fakes.smtp import Certificates

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
VERSION = "/v1.0"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # decoded, without the version prefix: /users/aad-ash/events
    body: Any


class FakeGraph(_Served):
    """Calendars of the users in `mailboxes` (Entra object id -> SMTP address)."""

    def __init__(
        self,
        aad: FakeEntraID,
        *,
        certificates: Certificates,
        mailboxes: dict[str, str],
    ) -> None:
        super().__init__(certificates)
        self._aad = aad
        self.mailboxes = dict(mailboxes)
        self.events: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.schedule: dict[str, list[dict[str, Any]]] = defaultdict(list)  # other busy items
        self.requests: list[Recorded] = []
        self.join_url_later = False  # POST answers without onlineMeeting; GET has it
        self._faults: deque[Fault] = deque()
        self._lost: deque[int] = deque()
        self._ids = itertools.count(1)
        self._routes = Map(
            [
                Rule(f"{VERSION}/users/<uid>", endpoint="user", methods=["GET"]),
                Rule(f"{VERSION}/users/<uid>/events", endpoint="create", methods=["POST"]),
                Rule(
                    f"{VERSION}/users/<uid>/events/<path:eid>",
                    endpoint="event",
                    methods=["GET", "PATCH", "DELETE"],
                ),
                Rule(
                    f"{VERSION}/users/<uid>/calendar/getSchedule",
                    endpoint="schedule",
                    methods=["POST"],
                ),
            ]
        )

    @property
    def base_url(self) -> str:
        return self.url + VERSION

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` calls with `status`, doing nothing."""
        with self._lock:
            self._faults.extend([Fault(status, retry_after)] * times)

    def lose_next_answer(self, status: int = 503) -> None:
        """Do the next call, then answer `status` as if its answer never arrived."""
        with self._lock:
            self._lost.append(status)

    def calls(self, method: str, suffix: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) if request.data else None
        with self._lock:
            self.requests.append(Recorded(request.method, request.path[len(VERSION) :], body))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return _json({"error": {"code": "Scripted", "message": "x"}}, fault.status, headers)
        if not self._authorized(request):
            return _json({"error": {"code": "InvalidAuthenticationToken"}}, 401)
        endpoint, args = self._routes.bind_to_environ(request.environ).match(method=request.method)
        if args["uid"] not in self.mailboxes:
            return _json({"error": {"code": "ErrorInvalidUser", "message": "no such user"}}, 404)
        with self._lock:
            response = self._answer(endpoint, request, args, body)
            lost = self._lost.popleft() if self._lost else None
        return response if lost is None else _json({"error": {"code": "Lost"}}, lost)

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and self._aad.issued(token, GRAPH_SCOPE)

    def _answer(self, endpoint: str, request: Request, args: dict[str, str], body: Any) -> Response:
        uid = args["uid"]
        if endpoint == "user":
            return _json({"id": uid, "mail": self.mailboxes[uid]})
        if endpoint == "create":
            return self._create(uid, body)
        if endpoint == "schedule":
            return self._schedule(uid, body)
        event = self.events[uid].get(args["eid"])
        if event is None:
            return _json({"error": {"code": "ErrorItemNotFound", "message": "gone"}}, 404)
        if request.method == "DELETE":
            del self.events[uid][args["eid"]]
            return Response(status=204)
        if request.method == "PATCH":
            event.update(body)
        return _json(event)

    def _create(self, uid: str, body: dict[str, Any]) -> Response:
        for event in self.events[uid].values():
            if body.get("transactionId") and event["transactionId"] == body["transactionId"]:
                return _json(event, 201)
        number = next(self._ids)
        join = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{number}%40thread.v2/0"
        event = {**body, "id": f"AAMkAD{number}/x+y=", "onlineMeeting": {"joinUrl": join}}
        self.events[uid][event["id"]] = event
        if self.join_url_later:
            return _json({**event, "onlineMeeting": None}, 201)
        return _json(event, 201)

    def _schedule(self, uid: str, body: dict[str, Any]) -> Response:
        """Like Graph: every event shows, subject and all; the caller keeps only the times."""
        [address] = body["schedules"]
        if address != self.mailboxes[uid]:
            return _json({"error": {"code": "ErrorInvalidRequest"}}, 400)
        items = [
            {"status": "busy", "subject": e["subject"], "start": e["start"], "end": e["end"]}
            for e in self.events[uid].values()
        ] + self.schedule[uid]
        return _json(
            {
                "value": [
                    {
                        "scheduleId": address,
                        "availabilityView": "0" * 8,
                        "scheduleItems": items,
                    }
                ]
            }
        )
