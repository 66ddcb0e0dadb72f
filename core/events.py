"""Domain events, published only after the transaction that caused them commits.

Events carry ids, never names, notes or identities: a handler that needs more
asks a service, which enforces the same rules as everywhere else.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    program_id: uuid.UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RequestCreated(DomainEvent):
    request_id: uuid.UUID
    urgency: str
    is_urgent: bool


@dataclass(frozen=True, kw_only=True)
class OfferMade(DomainEvent):
    offer_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class OfferAccepted(DomainEvent):
    offer_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID
    superseded_offer_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OfferDeclined(DomainEvent):
    offer_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class OfferExpired(DomainEvent):
    offer_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class NobodyFree(DomainEvent):
    """A talk-now request found nobody free to offer it to (it keeps waiting)."""

    request_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class BookingConfirmed(DomainEvent):
    booking_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class BookingCancelled(DomainEvent):
    booking_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID
    cancelled_by: str


@dataclass(frozen=True, kw_only=True)
class BookingRescheduled(DomainEvent):
    booking_id: uuid.UUID
    request_id: uuid.UUID
    supporter_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class ChatStarted(DomainEvent):
    request_id: uuid.UUID
    supporter_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class SessionClosed(DomainEvent):
    request_id: uuid.UUID
    outcome: str
    supporter_id: uuid.UUID | None = None


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]


@dataclass
class EventBus:
    """Subscribers by event class; a failing handler is logged, never re-raised."""

    handlers: dict[type[DomainEvent], list[Handler]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self.handlers[event_type].append(handler)

    def publish(self, event: DomainEvent) -> None:
        for event_type, handlers in list(self.handlers.items()):
            if isinstance(event, event_type):
                for handler in handlers:
                    try:
                        handler(event)
                    except Exception:
                        log.exception(
                            "event handler %r failed for %s", handler, type(event).__name__
                        )


def record(session: Session, event: DomainEvent) -> None:
    """Queue an event on the session; it is published after commit, dropped on rollback."""
    session.info.setdefault("pending_events", []).append(event)


def bind_to_sessions() -> None:
    """Install the commit/rollback hooks once per process."""
    if sa_event.contains(Session, "after_commit", _after_commit):
        return
    sa_event.listen(Session, "after_commit", _after_commit)
    sa_event.listen(Session, "after_soft_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    pending = session.info.pop("pending_events", [])
    bus: EventBus | None = session.info.get("bus")
    if bus is None:
        return
    for event in pending:
        bus.publish(event)


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("pending_events", None)
