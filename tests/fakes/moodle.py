"""A fake Moodle web service on loopback (TLS): the REST protocol's calendar functions.

    with FakeMoodle(certificates=c, token="wstoken-1") as moodle:
        moodle.url                        # as LMS_MOODLE_URL
        moodle.events                     # id -> event, in the token user's calendar
        moodle.calls("core_calendar_create_calendar_events")
        moodle.fail_next(503); moodle.fail_next_with("dmlwriteexception"); moodle.lose_next_answer()

Like Moodle: one POST endpoint, errors as HTTP 200 with `exception` and `errorcode`, an
unknown token is `invalidtoken`, unexpected parameters are `invalidparameter` (so a user id
cannot be slipped in), and events are made for the token's own user.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.botconnector import Fault, _json, _Served
from tests.fakes.smtp import Certificates

PATH = "/webservice/rest/server.php"
TOKEN_USER = 2
EVENT_KEYS = frozenset(
    {"name", "description", "format", "courseid", "groupid", "repeats", "eventtype"}
    | {"timestart", "timeduration", "visible", "sequence"}
)


@dataclass(frozen=True)
class Recorded:
    function: str
    params: dict[str, str]


class FakeMoodle(_Served):
    def __init__(self, *, certificates: Certificates, token: str) -> None:
        super().__init__(certificates)
        self._token = token
        self.events: dict[int, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self._faults: deque[Fault | str] = deque()
        self._lost: deque[int] = deque()
        self._ids = itertools.count(501)

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self._faults.extend([Fault(status, retry_after)] * times)

    def fail_next_with(self, errorcode: str) -> None:
        """Answer the next call with Moodle's exception JSON (HTTP 200) carrying `errorcode`."""
        with self._lock:
            self._faults.append(errorcode)

    def lose_next_answer(self, status: int = 503) -> None:
        with self._lock:
            self._lost.append(status)

    def calls(self, function: str) -> list[Recorded]:
        return [r for r in self.requests if r.function == function]

    def handle(self, request: Request) -> Response:
        if request.path != PATH or request.method != "POST":
            return Response("not found", 404)
        params = {key: request.form[key] for key in request.form}
        token = params.pop("wstoken", "")
        function = params.pop("wsfunction", "")
        with self._lock:
            self.requests.append(Recorded(function, dict(params)))
            fault = self._faults.popleft() if self._faults else None
        if isinstance(fault, Fault):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return Response("<html>error</html>", fault.status, headers)
        if isinstance(fault, str):
            return _exception(fault, "scripted")
        if params.pop("moodlewsrestformat", "") != "json":
            return Response("<xml/>", 200)
        if token != self._token:
            return _exception("invalidtoken", "Invalid token - token not found")
        handler = {
            "core_calendar_create_calendar_events": self._create,
            "core_calendar_delete_calendar_events": self._delete,
            "core_calendar_get_calendar_events": self._get,
        }.get(function)
        if handler is None:
            return _exception("accessexception", "Access control exception")
        with self._lock:
            response = handler(params)
            lost = self._lost.popleft() if self._lost else None
        return response if lost is None else Response("<html>lost</html>", lost)

    def _create(self, params: dict[str, str]) -> Response:
        fields = _indexed(params, "events[0]")
        if set(params) != {f"events[0][{key}]" for key in fields} or not set(fields) <= EVENT_KEYS:
            return _exception("invalidparameter", "Invalid parameter value detected")
        event = {
            "id": next(self._ids),
            "name": fields["name"],
            "description": fields.get("description", ""),
            "eventtype": fields.get("eventtype", "user"),
            "userid": TOKEN_USER,
            "timestart": int(fields["timestart"]),
            "timeduration": int(fields.get("timeduration", 0)),
        }
        self.events[event["id"]] = event
        return _json({"events": [event], "warnings": []})

    def _delete(self, params: dict[str, str]) -> Response:
        fields = _indexed(params, "events[0]")
        if set(fields) != {"eventid", "repeat"}:
            return _exception("invalidparameter", "Invalid parameter value detected")
        if self.events.pop(int(fields["eventid"]), None) is None:
            return _exception("invalidrecord", "Can't find data record in database table event.")
        return Response("null", 200, content_type="application/json")

    def _get(self, params: dict[str, str]) -> Response:
        start = int(params.get("options[timestart]", 0))
        end = int(params.get("options[timeend]", 0)) or 2**31
        found = [e for e in self.events.values() if start <= e["timestart"] < end]
        return _json({"events": found, "warnings": []})


def _indexed(params: dict[str, str], prefix: str) -> dict[str, str]:
    return {
        key[len(prefix) + 1 : -1]: value for key, value in params.items() if key.startswith(prefix)
    }


def _exception(errorcode: str, message: str) -> Response:
    body = {"exception": "moodle_exception", "errorcode": errorcode, "message": message}
    return _json(body, 200)
