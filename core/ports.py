"""Interfaces plugins implement: notification channels, the calendar-file writer, sign-in."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

Audience = Literal["requester", "supporter", "coordinator"]
FORGET_AFTER_SENDING = "forget_after_sending"
"""A `data` key: when true, the snapshot (e.g. a relayed chat line) is erased once sent."""
CalendarMethod = Literal["REQUEST", "CANCEL", "PUBLISH"]


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One message to one person; the channel resolves the address itself.

    `data` is a snapshot taken when the message was decided (kinds and keys in
    core.notify.kinds); it never holds an identity, an address or a note.
    """

    dedupe_key: str
    program_id: uuid.UUID
    audience: Audience
    kind: str  # offer_made, booking_confirmed, booking_reminder, ...
    request_id: uuid.UUID | None = None
    supporter_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)
    order_key: str | None = None
    """Messages sharing it are sent in the order they were decided (a chat's lines)."""


@dataclass(frozen=True)
class DeliveryResult:
    """What a channel says happened; `permanent` failures are not retried."""

    delivered: bool
    retry_after_seconds: float | None = None
    permanent: bool = False
    detail: str = ""


@runtime_checkable
class NotificationChannel(Protocol):
    """A way to reach people (Slack, Teams, e-mail, LMS calendar)."""

    name: str

    def can_reach(self, notification: Notification) -> bool:
        """True when this channel knows an address for the notification's recipient."""
        ...

    def deliver(self, notification: Notification) -> DeliveryResult:
        """Send once; report failure honestly rather than raising for expected faults."""
        ...


@dataclass(frozen=True, kw_only=True)
class Attendee:
    name: str  # an alias, never a real name the other side did not choose to give
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class CalendarEvent:
    """One booked session as calendar software sees it: neutral title, no topic."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    stamp: datetime  # DTSTAMP: when this version of the invite was made
    title: str = "Peer chat"
    description: str = ""
    location: str = ""
    cancelled: bool = False
    organizer: Attendee | None = None
    attendees: tuple[Attendee, ...] = ()


@runtime_checkable
class CalendarWriter(Protocol):
    """Writes iCalendar files: invites for e-mail and chat, and subscribable feeds."""

    def invite(self, event: CalendarEvent, method: CalendarMethod) -> bytes:
        """One VCALENDAR with METHOD first and one VEVENT, lines folded, CRLF endings."""
        ...

    def feed(self, name: str, events: list[CalendarEvent]) -> bytes:
        """A subscribable VCALENDAR (METHOD:PUBLISH) holding the given events."""
        ...


@dataclass(frozen=True)
class ExternalIdentity:
    """Who an identity provider says signed in: its stable ids, and the e-mail to match once."""

    issuer: str
    subject: str
    email: str
    name: str = ""


class SignInMethod(Protocol):
    """Single sign-on for the console (e.g. Microsoft Entra ID, from the Teams plugin).

    `begin` says where to send the browser and what to keep until it comes back (kept
    encrypted in the browser's session cookie); `finish` turns the provider's answer into an
    identity, or raises core.errors.Unauthorized with words a person can act on.
    """

    name: str  # in URLs: /console/sign-in/<name>
    label: str  # the button: "Sign in with Microsoft"

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]: ...

    def finish(self, kept: dict[str, Any], answer: Mapping[str, str]) -> ExternalIdentity: ...
