"""The Canvas REST calls the sync makes, as the Canvas account an admin connected.

    client = CanvasClient(base_url=settings.canvas_url, tokens=tokens)
    group = client.create_group(program_id, fields)      # POST /api/v1/appointment_groups
    client.update_group(program_id, group_id, fields)    # PUT …/:id (new_appointments)
    client.get_group(program_id, group_id)               # GET …/:id?include[]=child_events
    client.delete_event(program_id, event_id, reason)    # DELETE /api/v1/calendar_events/:id
    client.send_message(program_id, user_id, …)          # POST /api/v1/conversations

A 401 gets one fresh access token and one more try. Our job queue and the timer do the
retrying, so every other fault is a CanvasError saying whether another try may help (429,
Canvas's 403 "Rate Limit Exceeded", 5xx, timeouts, network) or not. Its reason names a
status, never a token, a name or a message Canvas wrote.
"""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from lms.sync.canvas_tokens import CanvasError, CanvasTokens

Form = Sequence[tuple[str, str]]
MAX_PAGES = 20
MAX_RETRY_AFTER = 86_400.0


class CanvasClient:
    """Synchronous Canvas REST client for the few calls PeerLine makes."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: CanvasTokens,
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout

    def create_group(self, program_id: uuid.UUID, fields: Form) -> dict[str, Any]:
        return _object(self._call(program_id, "POST", "/api/v1/appointment_groups", fields))

    def update_group(self, program_id: uuid.UUID, group_id: str, fields: Form) -> None:
        self._call(program_id, "PUT", f"/api/v1/appointment_groups/{_segment(group_id)}", fields)

    def get_group(self, program_id: uuid.UUID, group_id: str) -> dict[str, Any]:
        """The group with its time slots and, in each, its reservations (child events)."""
        path = f"/api/v1/appointment_groups/{_segment(group_id)}"
        return _object(self._call(program_id, "GET", path, params=[("include[]", "child_events")]))

    def manageable_groups(self, program_id: uuid.UUID, course: str) -> list[dict[str, Any]]:
        """Groups the account manages in the course, past ones included (to adopt a lost one)."""
        params: Form | None = [
            ("scope", "manageable"),
            ("context_codes[]", f"course_{course}"),
            ("include_past_appointments", "true"),
            ("per_page", "100"),
        ]
        url, found = self._base + "/api/v1/appointment_groups", []
        for _ in range(MAX_PAGES):
            response = self._call(program_id, "GET", url, params=params, absolute=True)
            page = _json(response)
            if not isinstance(page, list):
                raise CanvasError(permanent=False, reason="Canvas's group list was not a list")
            found += [g for g in page if isinstance(g, dict)]
            url, params = response.links.get("next", {}).get("url", ""), None
            if not url.startswith(self._base + "/"):  # follow Canvas's own links only
                break
        return found

    def delete_event(self, program_id: uuid.UUID, event_id: str, reason: str = "") -> None:
        """Delete a time slot or a reservation; gone already (404) is as good as deleted."""
        path = f"/api/v1/calendar_events/{_segment(event_id)}"
        params = [("cancel_reason", reason)] if reason else None
        try:
            self._call(program_id, "DELETE", path, params=params)
        except CanvasError as error:
            if error.status != 404:
                raise

    def send_message(
        self, program_id: uuid.UUID, user_id: str, subject: str, body: str, course: str
    ) -> None:
        """A private Canvas Inbox message to one user, never a group conversation."""
        fields = [
            ("recipients[]", user_id),
            ("subject", subject),
            ("body", body),
            ("force_new", "true"),
            ("group_conversation", "false"),
            ("context_code", f"course_{course}"),
        ]
        self._call(program_id, "POST", "/api/v1/conversations", fields)

    def _call(
        self,
        program_id: uuid.UUID,
        method: str,
        path: str,
        data: Form | None = None,
        *,
        params: Form | None = None,
        absolute: bool = False,
    ) -> requests.Response:
        """With the program's access token; a 401 gets a fresh token and one more try."""
        url = path if absolute else self._base + path
        response = self._send(method, url, data, params, self._tokens.access_token(program_id))
        if response.status_code == 401:
            fresh = self._tokens.access_token(program_id, fresh=True)
            response = self._send(method, url, data, params, fresh)
        if not 200 <= response.status_code < 300:
            raise failure(response)
        return response

    def _send(
        self, method: str, url: str, data: Form | None, params: Form | None, token: str
    ) -> requests.Response:
        try:
            return self._session.request(
                method,
                url,
                data=list(data) if data is not None else None,
                params=list(params) if params is not None else None,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise CanvasError(permanent=False, reason="Canvas did not answer in time") from None
        except requests.RequestException as error:
            reason = f"could not reach Canvas ({type(error).__name__})"
            raise CanvasError(permanent=False, reason=reason) from None


def failure(response: requests.Response) -> CanvasError:
    """Throttling and 5xx are retried (after Retry-After when given); other refusals are not."""
    status = response.status_code
    after = retry_after(response.headers.get("Retry-After"))
    if status == 429 or (status == 403 and "rate limit exceeded" in response.text.lower()):
        return CanvasError(
            permanent=False, retry_after=after, reason="Canvas asked us to slow down", status=status
        )
    if status >= 500:
        reason = f"Canvas answered HTTP {status}"
        return CanvasError(permanent=False, retry_after=after, reason=reason, status=status)
    if status == 401:
        reason = "Canvas refused a fresh access token (HTTP 401): connect Canvas again"
        return CanvasError(permanent=True, reason=reason, status=status)
    if status == 403:
        reason = (
            "Canvas refused the call (HTTP 403): the connected account needs to teach the "
            "program course, and the developer key the scopes PeerLine asks for"
        )
        return CanvasError(permanent=True, reason=reason, status=status)
    return CanvasError(permanent=True, reason=f"Canvas answered HTTP {status}", status=status)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), if it makes sense."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER else None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CanvasError(permanent=False, reason="Canvas's answer was not JSON") from None


def _object(response: requests.Response) -> dict[str, Any]:
    document = _json(response)
    if not isinstance(document, dict):
        raise CanvasError(permanent=False, reason="Canvas's answer was not a JSON object")
    return document


def _segment(value: str) -> str:
    return quote(value, safe="")
