"""The Bot Connector REST calls our Teams channel makes: send, update a card, open a 1:1 chat.

A bearer token goes only to an https serviceUrl whose host is allow-listed, checked before
any token is fetched. Our job queue does the retrying, so a failure becomes a ConnectorError
that says whether another try may help; its reason names a status, never a token or text.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from core.ports import DeliveryResult
from integrations.teams.tokens import TokenError, TokenProvider

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_RETRY_AFTER = 86_400.0  # seconds; a longer wait is not believed


class ConnectorError(Exception):
    """A call that did not succeed; `permanent` ones are not worth another try."""

    def __init__(self, *, permanent: bool, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
        self.reason = reason


class BotConnector:
    """Synchronous Bot Connector v3 client: small enough for an SDK to replace later."""

    def __init__(
        self,
        *,
        tokens: TokenProvider,
        allowed_hosts: frozenset[str],
        session: requests.Session | None = None,
        timeout: float = 10,
        allow_loopback_http: bool = False,
    ) -> None:
        """`allow_loopback_http` lets tests use plain http on 127.0.0.1; never in production."""
        self._tokens = tokens
        self._allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout
        self._allow_loopback_http = allow_loopback_http

    def send(self, service_url: str, conversation_id: str, activity: Mapping[str, Any]) -> str:
        """Post a new activity to the conversation; returns the id Teams gave it."""
        path = f"/v3/conversations/{_segment(conversation_id)}/activities"
        return _id_of(self._call("POST", service_url, path, activity))

    def update(
        self,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        activity: Mapping[str, Any],
    ) -> None:
        """Replace an activity already posted (an offer card that was taken or expired)."""
        path = f"/v3/conversations/{_segment(conversation_id)}/activities/{_segment(activity_id)}"
        self._call("PUT", service_url, path, {**activity, "id": activity_id})

    def create_conversation(
        self, service_url: str, bot_id: str, user_id: str, tenant_id: str
    ) -> str:
        """Open (or find) the bot's 1:1 chat with a user; returns the conversation id."""
        body = {
            "bot": {"id": bot_id},
            "members": [{"id": user_id}],
            "channelData": {"tenant": {"id": tenant_id}},
            "isGroup": False,
        }
        return _id_of(self._call("POST", service_url, "/v3/conversations", body))

    def _call(
        self, method: str, service_url: str, path: str, body: Mapping[str, Any]
    ) -> requests.Response:
        """Check the host, then attach a token and make the call; faults become errors."""
        base = self._checked(service_url)
        try:
            token = self._tokens.connector_token()
        except TokenError as error:
            reason = f"no Bot Connector token ({error.reason})"
            raise ConnectorError(permanent=not error.transient, reason=reason) from None
        try:
            response = self._session.request(
                method,
                base + path,
                json=dict(body),
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            )
        except requests.Timeout:
            raise ConnectorError(
                permanent=False, reason="the Bot Connector did not answer in time"
            ) from None
        except requests.RequestException as error:
            reason = f"could not reach the Bot Connector ({type(error).__name__})"
            raise ConnectorError(permanent=False, reason=reason) from None
        if not 200 <= response.status_code < 300:
            raise failure(response.status_code, response.headers)
        return response

    def _checked(self, service_url: str) -> str:
        """The serviceUrl without its trailing slash, if a token may be sent there."""
        parts = urlsplit(service_url)
        host = (parts.hostname or "").lower()
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and self._allow_loopback_http and host in LOOPBACK_HOSTS
        )
        if not secure or host not in self._allowed_hosts or parts.username or parts.password:
            raise ConnectorError(permanent=True, reason="serviceUrl host not allowed")
        if parts.query or parts.fragment:
            raise ConnectorError(permanent=True, reason="serviceUrl host not allowed")
        return service_url.rstrip("/")


def failure(status: int, headers: Mapping[str, str]) -> ConnectorError:
    """Map an HTTP answer: rate limits and 5xx are retried, refusals are not."""
    if status == 429:
        after = retry_after(headers.get("Retry-After"))
        return ConnectorError(
            permanent=False, retry_after=after, reason="the Bot Connector asked us to slow down"
        )
    if status >= 500:
        return ConnectorError(permanent=False, reason=f"the Bot Connector answered HTTP {status}")
    if status in (401, 403):
        return ConnectorError(permanent=True, reason="the Bot Connector refused our token")
    if status == 404:
        return ConnectorError(permanent=True, reason="conversation not found")
    return ConnectorError(permanent=True, reason=f"the Bot Connector answered HTTP {status}")


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After of seconds or an HTTP date; None when absent or odd."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER else None


def result_of(error: ConnectorError) -> DeliveryResult:
    """What a channel reports for a failed call, so the job queue knows whether to retry."""
    return DeliveryResult(
        delivered=False,
        retry_after_seconds=error.retry_after,
        permanent=error.permanent,
        detail=error.reason,
    )


def _segment(value: str) -> str:
    """Teams ids hold ':' and '@': each is one path segment, fully escaped."""
    return quote(value, safe="")


def _id_of(response: requests.Response) -> str:
    """The `id` of a ResourceResponse; the call succeeded, so a missing one is not retried."""
    try:
        body = response.json()
    except ValueError:
        body = None
    found = body.get("id") if isinstance(body, dict) else None
    if not isinstance(found, str) or not found:
        raise ConnectorError(permanent=True, reason="the Bot Connector's answer had no id")
    return found
