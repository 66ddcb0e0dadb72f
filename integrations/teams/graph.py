"""Microsoft Graph, app-only: Teams meetings in supporters' calendars, and their free/busy.

    graph = GraphClient(tokens=tokens, base_url=settings.graph_url)
    meeting = graph.create_event(user_id, body)          # POST /users/{id}/events
    graph.update_event(user_id, meeting.event_id, {"start": …, "end": …})
    graph.delete_event(user_id, meeting.event_id)        # gone already (404) counts as done
    graph.busy_times(user_id, start, end)                # POST /users/{id}/calendar/getSchedule

Our job queue does the retrying, so a failure is a GraphError saying whether another try
may help (429 with its Retry-After, 5xx, timeouts, network faults) or not (other 4xx). Its
reason names a status or Graph's error code: never a token, an address or an event's text.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from integrations.teams.connector import ConnectorError, retry_after
from integrations.teams.settings import GRAPH_URL
from integrations.teams.tokens import TokenError, TokenProvider

BUSY = frozenset({"busy", "oof", "tentative"})  # free and workingElsewhere leave time bookable
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "tzone://Microsoft/Utc"})
MAX_MAILBOXES = 10_000  # cached addresses; a roster is far smaller


class GraphError(ConnectorError):
    """A Graph call that did not succeed; `permanent` ones are not worth another try."""

    def __init__(
        self,
        *,
        permanent: bool,
        reason: str,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(permanent=permanent, reason=reason, retry_after=retry_after)
        self.status = status


@dataclass(frozen=True)
class Meeting:
    """A calendar event with a Teams meeting; the join URL may come a moment later."""

    event_id: str
    join_url: str | None


class GraphClient:
    """Synchronous Graph v1.0 client for the few calls PeerLine makes, small enough to swap."""

    def __init__(
        self,
        *,
        tokens: TokenProvider,
        base_url: str = GRAPH_URL,
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> None:
        self._tokens = tokens
        self._base = base_url.rstrip("/")
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout
        self._mailboxes: dict[str, str] = {}
        self._lock = threading.Lock()

    def create_event(self, user_id: str, event: Mapping[str, Any]) -> Meeting:
        """A new event; a retry with the same `transactionId` gets the first one back."""
        return _meeting(self._call("POST", f"/users/{_segment(user_id)}/events", event))

    def get_event(self, user_id: str, event_id: str) -> Meeting:
        path = f"/users/{_segment(user_id)}/events/{_segment(event_id)}"
        return _meeting(self._call("GET", path, params={"$select": "id,onlineMeeting"}))

    def update_event(self, user_id: str, event_id: str, changes: Mapping[str, Any]) -> None:
        self._call("PATCH", f"/users/{_segment(user_id)}/events/{_segment(event_id)}", changes)

    def delete_event(self, user_id: str, event_id: str) -> None:
        """Delete the event; one that is gone already is as good as deleted."""
        path = f"/users/{_segment(user_id)}/events/{_segment(event_id)}"
        try:
            self._call("DELETE", path)
        except GraphError as error:
            if error.status != 404:
                raise

    def busy_times(
        self, user_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Busy, away or tentative stretches in [start, end): the times only, nothing else."""
        address = self._mailbox(user_id)
        body = {
            "schedules": [address],
            "startTime": when(start),
            "endTime": when(end),
            "availabilityViewInterval": 60,
        }
        response = self._call(
            "POST",
            f"/users/{_segment(user_id)}/calendar/getSchedule",
            body,
            headers={"Prefer": 'outlook.timezone="UTC"'},
        )
        return _busy_of(_json(response))

    def _mailbox(self, user_id: str) -> str:
        """getSchedule asks by SMTP address, not by object id: read it once (User.ReadBasic.All)."""
        with self._lock:
            known = self._mailboxes.get(user_id)
        if known is not None:
            return known
        found = _json(
            self._call("GET", f"/users/{_segment(user_id)}", params={"$select": "id,mail"})
        ).get("mail")
        if not isinstance(found, str) or "@" not in found:
            raise GraphError(permanent=True, reason="the supporter has no mailbox in Graph")
        with self._lock:
            if len(self._mailboxes) >= MAX_MAILBOXES:
                self._mailboxes.clear()
            self._mailboxes[user_id] = found
        return found

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Attach a Graph token and make the call; every fault becomes a GraphError."""
        try:
            token = self._tokens.graph_token()
        except TokenError as error:
            reason = f"no Graph token ({error.reason})"
            raise GraphError(permanent=not error.transient, reason=reason) from None
        try:
            response = self._session.request(
                method,
                self._base + path,
                json=dict(body) if body is not None else None,
                params=params,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
                timeout=self._timeout,
            )
        except requests.Timeout:
            raise GraphError(permanent=False, reason="Graph did not answer in time") from None
        except requests.RequestException as error:
            reason = f"could not reach Graph ({type(error).__name__})"
            raise GraphError(permanent=False, reason=reason) from None
        if not 200 <= response.status_code < 300:
            raise failure(response)
        return response


def failure(response: requests.Response) -> GraphError:
    """Rate limits and 5xx are retried (after Retry-After when given); other refusals are not."""
    status = response.status_code
    code = _error_code(response)
    after = retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return GraphError(
            permanent=False, retry_after=after, reason="Graph asked us to slow down", status=status
        )
    if status >= 500:
        reason = f"Graph answered HTTP {status}{code}"
        return GraphError(permanent=False, retry_after=after, reason=reason, status=status)
    if status in (401, 403):
        reason = f"Graph refused the app (HTTP {status}{code}: check its Graph permissions)"
        return GraphError(permanent=True, reason=reason, status=status)
    return GraphError(permanent=True, reason=f"Graph answered HTTP {status}{code}", status=status)


def when(moment: datetime) -> dict[str, str]:
    """Graph's dateTimeTimeZone, always in UTC."""
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def moment_of(value: object) -> datetime:
    """A dateTimeTimeZone in UTC (we ask for UTC); its 7-digit fractions are dropped."""
    if not isinstance(value, dict) or value.get("timeZone") not in UTC_NAMES:
        raise ValueError("expected a UTC dateTimeTimeZone")
    text = str(value.get("dateTime", "")).partition(".")[0]
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _busy_of(document: Mapping[str, Any]) -> list[tuple[datetime, datetime]]:
    schedules = document.get("value")
    if not isinstance(schedules, list) or len(schedules) != 1 or not isinstance(schedules[0], dict):
        raise GraphError(permanent=False, reason="Graph's schedule answer had no schedule")
    schedule = schedules[0]
    problem = schedule.get("error")
    if isinstance(problem, dict):
        code = str(problem.get("responseCode") or "unknown")
        code = code if code.isalnum() else "unknown"
        raise GraphError(permanent=True, reason=f"no free/busy for the supporter ({code})")
    found: list[tuple[datetime, datetime]] = []
    for item in schedule.get("scheduleItems") or []:
        if isinstance(item, dict) and item.get("status") in BUSY:
            try:
                found.append((moment_of(item.get("start")), moment_of(item.get("end"))))
            except ValueError:
                raise GraphError(
                    permanent=False, reason="Graph gave a time we cannot read"
                ) from None
    return found


def _meeting(response: requests.Response) -> Meeting:
    """The event's id and its Teams join URL (if Graph has made it yet)."""
    document = _json(response)
    event_id = document.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise GraphError(permanent=True, reason="Graph's event answer had no id")
    online = document.get("onlineMeeting")
    join = online.get("joinUrl") if isinstance(online, dict) else None
    return Meeting(event_id, join if isinstance(join, str) and join else None)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise GraphError(permanent=False, reason="Graph's answer was not a JSON object")
    return document


def _error_code(response: requests.Response) -> str:
    """Graph's error code (e.g. ErrorItemNotFound), never its message, which may quote data."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    code = error.get("code") if isinstance(error, dict) else None
    return f", {code}" if isinstance(code, str) and code.isalnum() and len(code) < 80 else ""


def _segment(value: str) -> str:
    """Ids hold '=', '/' and '+' (event ids): each is one fully escaped path segment."""
    return quote(value, safe="")
