"""Slack DMs from the app's bot: offers with buttons, booking news with the invite attached.

Our job queue does the retrying, with backoff and the Retry-After Slack sends, so the
WebClient must not retry on its own: build it with `retry_handlers=[]`. A failure's detail
names the Slack error code or HTTP status, never a user id, a token or the message.
"""

from __future__ import annotations

import http.client
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackTokenRotationError

from core.notify import kinds
from core.notify.wording import instant
from core.ports import Attendee, CalendarEvent, DeliveryResult, Notification
from core.services import recipients
from integrations.slack import cards
from integrations.slack.blocks import render

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
SDK_LOG = logging.getLogger(f"{__name__}.sdk")
SDK_LOG.setLevel(logging.INFO)  # slack_sdk's debug lines carry user ids and message text
ClientFactory = Callable[[], WebClient]
"""Makes a WebClient: bot token, base_url=SLACK_API_URL, retry_handlers=[], logger=SDK_LOG."""


class WorkspaceClients(Protocol):
    """Many workspaces (OAuth installs): each program's messages go out as its workspace's bot."""

    def reaches(self, program_id: uuid.UUID) -> bool:
        """Whether the program has a workspace with the app installed."""
        ...

    def client_for(self, program_id: uuid.UUID) -> WebClient | None:
        """A client with that workspace's bot token; None when it has none any more."""
        ...


INVITE_FILENAME = "peer-chat.ics"
DM_CACHE_SIZE = 1024  # conversations.open is tier 3: remember DM ids, but not without bound
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"}
)
RECIPIENT_ERRORS = frozenset(
    {"channel_not_found", "user_not_found", "cannot_dm_bot", "user_disabled"}
)
# Slack's own words: transient, on its side; worth another try later
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")


class SlackChannel:
    """Sends each notification as a DM from the bot; bookings also get the calendar invite."""

    name = "slack"

    def __init__(
        self,
        runtime: Runtime,
        client_factory: ClientFactory | None = None,
        *,
        workspaces: WorkspaceClients | None = None,
    ) -> None:
        """One of `client_factory` (one workspace) or `workspaces` (OAuth installs).

        Either is asked per delivery, so a rotated token is picked up.
        """
        assert (client_factory is None) != (workspaces is None)
        self._runtime = runtime
        self._client_factory = client_factory
        self._workspaces = workspaces
        self._dms: OrderedDict[str, str] = OrderedDict()
        self._dms_lock = threading.Lock()

    def can_reach(self, notification: Notification) -> bool:
        """Supporters with a Slack contact, and requesters who asked from Slack.

        With OAuth installs, only where the program's workspace has the app installed.
        """
        if self._workspaces is not None and not self._workspaces.reaches(notification.program_id):
            return False
        return self._user_of(notification) is not None

    def deliver(self, notification: Notification) -> DeliveryResult:
        """Open the DM, post the message, attach the invite; expected faults become results."""
        user = self._user_of(notification)
        if user is None:  # purged after the retention window, or the contact was removed
            return _permanent("no Slack user on record for this recipient")
        try:
            text, blocks = render(notification)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            return _permanent(f"cannot write a {notification.kind} Slack message ({_what(error)})")
        client = self._client(notification)
        if isinstance(client, DeliveryResult):
            return client
        try:
            card = cards.card_of(self._runtime, notification)
            if card is not None:  # "taken" / "expired": the offer card itself changes
                client.chat_update(channel=card[0], ts=card[1], text=text, blocks=blocks)
                return DeliveryResult(delivered=True)
            dm = self._open_dm(client, user)
            posted = client.chat_postMessage(channel=dm, text=text, blocks=blocks)
        except SlackApiError as error:
            result = failure(error)
            if result.permanent:  # e.g. channel_not_found: a DM Slack no longer knows
                self._forget_dm(user)
            return result
        except (SlackClientError, OSError, http.client.HTTPException) as error:
            return failure(error)
        self._remember_card(notification, dm, str(posted.get("ts", "")))
        if notification.kind in kinds.CALENDAR:
            self._upload_invite(client, dm, notification)
        return DeliveryResult(delivered=True)

    def _client(self, notification: Notification) -> WebClient | DeliveryResult:
        """The bot's client for this notification, or why there is none."""
        if self._client_factory is not None:
            return self._client_factory()
        assert self._workspaces is not None
        try:
            client = self._workspaces.client_for(notification.program_id)
        except SlackTokenRotationError as error:  # Slack refused the refresh token
            return failure(error.api_error)
        except (SlackClientError, OSError, http.client.HTTPException) as error:
            return failure(error)
        if client is None:
            return _permanent(
                "the Slack app has no bot token for this program's workspace "
                "(uninstalled or revoked): reinstall the Slack app"
            )
        return client

    def _remember_card(self, notification: Notification, dm: str, ts: str) -> None:
        """The message is out: failing to note where must not send it again."""
        try:
            cards.remember(self._runtime, notification, dm, ts)
        except Exception as error:
            log.warning("offer card posted but not recorded (%s)", type(error).__name__)

    def _user_of(self, notification: Notification) -> str | None:
        ctx = self._runtime.system_ctx()
        with ctx.session:
            return recipients.address_of(ctx, notification, "slack")

    def _open_dm(self, client: WebClient, user: str) -> str:
        with self._dms_lock:
            if user in self._dms:
                self._dms.move_to_end(user)
                return self._dms[user]
        opened = client.conversations_open(users=user)
        dm = str(opened["channel"]["id"])
        with self._dms_lock:
            self._dms[user] = dm
            while len(self._dms) > DM_CACHE_SIZE:
                self._dms.popitem(last=False)
        return dm

    def _forget_dm(self, user: str) -> None:
        """A DM Slack no longer knows is opened afresh next time."""
        with self._dms_lock:
            self._dms.pop(user, None)

    def _upload_invite(self, client: WebClient, dm: str, notification: Notification) -> None:
        """The message is already delivered: a failed upload is logged, never retried."""
        try:
            invite = self._invite(notification)
            if invite is not None:
                client.files_upload_v2(
                    channel=dm, filename=INVITE_FILENAME, title="Peer chat", content=invite
                )
        except Exception as error:  # any fault here must not resend the message
            detail = failure(error).detail if _is_transport(error) else _what(error)
            log.warning("Slack %s sent without its calendar invite: %s", notification.kind, detail)

    def _invite(self, notification: Notification) -> bytes | None:
        """The booking as a file to open (PUBLISH): no addresses, so not an iTIP invite.

        Calendars import it by UID, so a later file with a higher SEQUENCE updates the
        entry, and a cancellation's file marks it cancelled.
        """
        writer = self._runtime.calendar
        if writer is None:
            return None
        booking, method = notification.data["booking"], notification.data["method"]
        event = CalendarEvent(
            uid=str(booking["uid"]),
            sequence=int(booking["sequence"]),
            starts_at=instant(booking["starts_at"]),
            ends_at=instant(booking["ends_at"]),
            stamp=self._runtime.clock.now(),
            title="Peer chat",
            cancelled=method == "CANCEL",
            organizer=Attendee(name="PeerLine"),
            attendees=(Attendee(name="You"),),
        )
        return writer.invite(event, "PUBLISH")


def failure(error: Exception) -> DeliveryResult:
    """Map a fault honestly: rate limits, 5xx and the network are retried, refusals are not."""
    if isinstance(error, SlackApiError):
        response = error.response
        return _api_failure(response.status_code, response.headers, response.data)
    if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
        return _retry("Slack did not answer in time")
    if isinstance(error, OSError | http.client.HTTPException):
        return _retry(f"could not talk to Slack ({type(error).__name__})")
    return _permanent(f"the Slack client refused the call ({type(error).__name__})")


def _api_failure(status: int, headers: Mapping[str, Any], body: object) -> DeliveryResult:
    code = _error_code(body.get("error")) if isinstance(body, dict) else None
    if status == 429 or code == "ratelimited":
        return _retry("Slack asked us to slow down (rate limited)", retry_after(headers))
    if status >= 500:
        return _retry(f"Slack answered HTTP {status}")
    if code in TRANSIENT_ERRORS:
        return _retry(f"Slack had a passing fault ({code})")
    if code in TOKEN_ERRORS:
        return _permanent(f"Slack refused the bot token ({code}): reinstall the Slack app")
    if code == "missing_scope":
        return _permanent("the Slack app lacks a permission (missing_scope): reinstall it")
    if code in RECIPIENT_ERRORS:
        return _permanent(f"Slack cannot reach this recipient ({code})")
    if code is not None:
        return _permanent(f"Slack refused the message ({code})")
    if status != 200:
        return _permanent(f"Slack answered HTTP {status}: check SLACK_API_URL")
    return _retry("Slack sent an answer that is not the Web API's JSON")


def retry_after(headers: Mapping[str, Any]) -> float | None:
    """Seconds from Retry-After (header names are case-insensitive); None when absent or odd."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                seconds = float(str(raw).strip())
            except ValueError:
                return None
            return seconds if 0 <= seconds <= 86_400 else None
    return None


def _error_code(value: object) -> str | None:
    """Slack's error code; anything else (an unreadable body's text) is never repeated."""
    text = str(value) if isinstance(value, str) else ""
    return text if _ERROR_CODE.fullmatch(text) else None


def _is_transport(error: Exception) -> bool:
    return isinstance(error, SlackClientError | OSError | http.client.HTTPException)


def _what(error: Exception) -> str:
    return f"missing {error.args[0]!r}" if isinstance(error, KeyError) else type(error).__name__


def _permanent(detail: str) -> DeliveryResult:
    return DeliveryResult(delivered=False, permanent=True, detail=detail)


def _retry(detail: str, after: float | None = None) -> DeliveryResult:
    return DeliveryResult(delivered=False, retry_after_seconds=after, detail=detail)
