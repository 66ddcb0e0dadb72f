"""Canvas's side of booking changes: reservations released, and students' messages.

A booking cancelled or moved in PeerLine decides, in the same transaction, the deletion of
its Canvas reservation (pinned to the `canvas_calendar` channel: durable, retried, done
once); Canvas tells the student with our reason. A student who booked in Canvas is a
requester on platform `canvas`, so PeerLine's messages to them (confirmation, reminders,
the video link, cancellation, each with the crisis resources) go to their Canvas Inbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import events
from core.notify import router
from core.notify.plain import RENDERERS, Content, crisis_block, footer, render
from core.ports import DeliveryResult, Notification
from core.services import lms_sync_data, recipients
from lms.sync.canvas_client import CanvasClient
from lms.sync.canvas_reservations import CHANNEL, KIND, PLATFORM
from lms.sync.canvas_tokens import CanvasError
from lms.sync.storage import CANVAS_RESERVATIONS

if TYPE_CHECKING:
    from core.runtime import Runtime

INBOX = "canvas"
CANCELLED = "This peer chat was cancelled in PeerLine. You can book another time here."
MOVED = (
    "This peer chat was moved to another time in PeerLine, so it is no longer held here. "
    "PeerLine has sent the new time to your Canvas Inbox."
)


def route(session: Session, event: events.DomainEvent) -> list[Notification]:
    """A new booking claims its reservation's row; a cancelled or moved one releases it."""
    if isinstance(event, events.BookingConfirmed):
        facts = lms_sync_data.booking_facts(session, event.booking_id)
        if facts is not None:
            session.execute(
                update(CANVAS_RESERVATIONS)
                .where(
                    CANVAS_RESERVATIONS.c.booking_id.is_(None),
                    CANVAS_RESERVATIONS.c.state == "booked",
                    CANVAS_RESERVATIONS.c.supporter_id == facts.supporter_id,
                    CANVAS_RESERVATIONS.c.starts_at == facts.starts_at,
                )
                .values(booking_id=facts.id)
            )
        return []
    if not isinstance(event, events.BookingCancelled | events.BookingRescheduled):
        return []
    row = session.execute(
        select(CANVAS_RESERVATIONS.c.reservation_id).where(
            CANVAS_RESERVATIONS.c.booking_id == event.booking_id,
            CANVAS_RESERVATIONS.c.state == "booked",
        )
    ).first()
    if row is None:
        return []
    session.execute(
        update(CANVAS_RESERVATIONS)
        .where(CANVAS_RESERVATIONS.c.reservation_id == row.reservation_id)
        .values(state="released")
    )
    reason = CANCELLED if isinstance(event, events.BookingCancelled) else MOVED
    note = router.about_booking(
        session,
        event.booking_id,
        KIND,
        via=CHANNEL,
        method="CANCEL",
        reservation_id=row.reservation_id,
        reason=reason,
    )
    return [note]


def result_of(error: CanvasError) -> DeliveryResult:
    return DeliveryResult(
        delivered=False,
        permanent=error.permanent,
        retry_after_seconds=error.retry_after,
        detail=error.reason,
    )


class ReservationChannel:
    """Deletes a reservation in Canvas, with the reason Canvas shows the student."""

    name = CHANNEL

    def __init__(self, client: CanvasClient) -> None:
        self._client = client

    def can_reach(self, notification: Notification) -> bool:
        return notification.kind == KIND

    def deliver(self, notification: Notification) -> DeliveryResult:
        reservation = notification.data.get("reservation_id")
        if not isinstance(reservation, str) or not reservation:
            detail = f"a {KIND} without its reservation"
            return DeliveryResult(delivered=False, permanent=True, detail=detail)
        reason = str(notification.data.get("reason") or "")
        try:
            self._client.delete_event(notification.program_id, reservation, reason)
        except CanvasError as error:
            return result_of(error)
        return DeliveryResult(delivered=True)


class InboxChannel:
    """PeerLine's messages to a student who booked in Canvas, as a private Inbox message."""

    name = INBOX

    def __init__(self, runtime: Runtime, client: CanvasClient, *, course: str) -> None:
        self._runtime = runtime
        self._client = client
        self._course = course

    def can_reach(self, notification: Notification) -> bool:
        if notification.audience != "requester" or notification.kind not in RENDERERS:
            return False
        return self._user(notification) is not None

    def deliver(self, notification: Notification) -> DeliveryResult:
        user = self._user(notification)
        if user is None:
            detail = "the student's Canvas identity is gone (retention)"
            return DeliveryResult(delivered=False, permanent=True, detail=detail)
        content = render(notification)
        try:
            self._client.send_message(
                notification.program_id,
                user,
                content.subject,
                text(notification, content),
                self._course,
            )
        except CanvasError as error:
            return result_of(error)
        return DeliveryResult(delivered=True)

    def _user(self, notification: Notification) -> str | None:
        ctx = self._runtime.system_ctx()
        with ctx.session:
            return recipients.address_of(ctx, notification, PLATFORM)


def text(notification: Notification, content: Content) -> str:
    """The message as plain text: what happened, then never a dead end, then who sent it."""
    parts = list(content.paragraphs)
    block = crisis_block(notification)
    if block is not None:
        parts.append(block["not_a_crisis"])
        parts += [
            f"{r['name']}: {r['contact']}" + (f" ({r['url']})" if r["url"] else "")
            for r in block["resources"]
        ]
    parts.append(footer(notification))
    return "\n\n".join(parts)
