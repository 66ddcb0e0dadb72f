"""Interfaces plugins implement: notification channels."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Audience = Literal["requester", "supporter"]


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One message to one person; the channel resolves the address itself."""

    dedupe_key: str
    program_id: uuid.UUID
    audience: Audience
    kind: str  # offer_made, booking_confirmed, reminder, ...
    request_id: uuid.UUID | None = None
    supporter_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
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
