"""Moodle calendar events for bookings made by students who came from this Moodle (LTI).

A booking confirmed, moved or cancelled whose requester launched from this Moodle (identity
platform `lti`, issuer LMS_MOODLE_ISSUER) decides a `moodle_event` delivery in the same
transaction, pinned to the `moodle_calendar` channel: durable, retried, in order per booking.
The event is "Peer chat" with the times and nothing else; a move is a delete and a create.
A create carries a reference made from the booking's calendar UID, so a retry after a lost
answer finds the first event instead of making a second.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from core import events
from core.errors import PeerLineError
from core.notify import router
from core.notify.wording import instant
from core.ports import DeliveryResult, Notification
from core.services import identities, lms_sync_data
from core.services.access import SYSTEM, Ctx
from lms.sync.moodle_client import MoodleClient, MoodleError
from lms.sync.program import program_for
from lms.sync.settings import SyncSettings
from lms.sync.storage import MOODLE_EVENTS

if TYPE_CHECKING:
    from core.runtime import Runtime

KIND = "moodle_event"
CHANNEL = "moodle_calendar"
NAME = "Peer chat"
DESCRIPTION = "A peer support session booked through PeerLine."
KEEP = timedelta(days=2)
METHODS: dict[type[events.DomainEvent], str] = {
    events.BookingConfirmed: "REQUEST",
    events.BookingRescheduled: "REQUEST",
    events.BookingCancelled: "CANCEL",
}


class MoodleRoute:
    """Decides the event work for bookings of this Moodle's students, in their transaction."""

    def __init__(self, runtime: Runtime, settings: SyncSettings) -> None:
        self._runtime = runtime
        self._settings = settings
        self._program: uuid.UUID | None = None

    def __call__(self, session: Session, event: events.DomainEvent) -> list[Notification]:
        method = METHODS.get(type(event))
        booking_id = getattr(event, "booking_id", None)
        if method is None or not isinstance(booking_id, uuid.UUID):
            return []
        facts = lms_sync_data.booking_facts(session, booking_id)
        if facts is None or facts.program_id != self._program_id(session, event.at):
            return []
        pushed = session.execute(
            select(MOODLE_EVENTS.c.booking_uid).where(MOODLE_EVENTS.c.booking_uid == facts.uid)
        ).first()
        if pushed is None and not self._from_moodle(session, event.at, facts.request_id):
            return []
        return [router.about_booking(session, booking_id, KIND, via=CHANNEL, method=method)]

    def _from_moodle(self, session: Session, at: datetime, request_id: uuid.UUID) -> bool:
        ctx = Ctx(session, SYSTEM, at, self._runtime.cipher)
        found = identities.identity_of(ctx, request_id)
        return (
            found is not None
            and found[0] == "lti"
            and found[1].startswith(self._settings.issuer + " ")
        )

    def _program_id(self, session: Session, at: datetime) -> uuid.UUID | None:
        if self._program is None:
            try:
                found = program_for(Ctx(session, SYSTEM, at), self._settings.moodle_program)
            except PeerLineError:
                found = None
            if found is None:
                return None  # no such program yet: asked again on the next booking
            self._program = found.id
        return self._program


@dataclass(frozen=True)
class Record:
    event_id: str | None  # None: asked for, the answer not seen
    sequence: int
    starts_at: datetime
    ends_at: datetime


class MoodleChannel:
    """Makes, moves and deletes a booking's Moodle event; Moodle's faults become results."""

    name = CHANNEL

    def __init__(self, runtime: Runtime, moodle: MoodleClient) -> None:
        self._runtime = runtime
        self._moodle = moodle

    def can_reach(self, notification: Notification) -> bool:
        return notification.kind == KIND

    def deliver(self, notification: Notification) -> DeliveryResult:
        try:
            booking = dict(notification.data["booking"])
            uid, sequence = str(booking["uid"]), int(booking["sequence"])
            start, end = instant(booking["starts_at"]), instant(booking["ends_at"])
            method = str(notification.data["method"])
        except (KeyError, ValueError, TypeError) as error:
            detail = f"a {KIND} without its booking ({type(error).__name__})"
            return DeliveryResult(delivered=False, permanent=True, detail=detail)
        try:
            if method == "CANCEL":
                self._remove(uid)
            else:
                self._ensure(uid, sequence, start, end)
        except MoodleError as error:
            return DeliveryResult(
                delivered=False,
                permanent=error.permanent,
                retry_after_seconds=error.retry_after,
                detail=error.reason,
            )
        return DeliveryResult(delivered=True)

    def _ensure(self, uid: str, sequence: int, start: datetime, end: datetime) -> None:
        """The event exists at the booking's times; an older one is deleted first (a move)."""
        record = self._record(uid)
        if record is not None and record.event_id is not None and record.sequence >= sequence:
            return
        unseen = record is not None and record.event_id is None and record.sequence == sequence
        if record is not None and record.sequence < sequence:
            self._delete(uid, record)
        self._save(uid, Record(None, sequence, start, end))  # from here a retry looks first
        ref = reference(uid, sequence)
        found = self._moodle.find_event(ref, _epoch(start)) if unseen else None
        event_id = found or self._moodle.create_event(
            NAME, f"{DESCRIPTION} (ref {ref})", _epoch(start), int((end - start).total_seconds())
        )
        self._save(uid, Record(event_id, sequence, start, end))

    def _remove(self, uid: str) -> None:
        record = self._record(uid)
        if record is None:
            return
        self._delete(uid, record)
        with self._runtime.engine.begin() as connection:
            connection.execute(delete(MOODLE_EVENTS).where(MOODLE_EVENTS.c.booking_uid == uid))

    def _delete(self, uid: str, record: Record) -> None:
        """The recorded version's event, by id, or by its reference if its answer was lost."""
        event_id = record.event_id or self._moodle.find_event(
            reference(uid, record.sequence), _epoch(record.starts_at)
        )
        if event_id is not None:
            self._moodle.delete_event(event_id)

    def _record(self, uid: str) -> Record | None:
        with self._runtime.engine.connect() as connection:
            row = connection.execute(
                select(MOODLE_EVENTS).where(MOODLE_EVENTS.c.booking_uid == uid)
            ).first()
        if row is None:
            return None
        return Record(row.event_id, row.sequence, row.starts_at, row.ends_at)

    def _save(self, uid: str, record: Record) -> None:
        """Upsert the booking's row; rows of sessions long over are swept as new ones come."""
        values: dict[str, Any] = {
            "event_id": record.event_id,
            "sequence": record.sequence,
            "starts_at": record.starts_at,
            "ends_at": record.ends_at,
        }
        now = self._runtime.clock.now()
        with self._runtime.engine.begin() as connection:
            connection.execute(delete(MOODLE_EVENTS).where(MOODLE_EVENTS.c.ends_at < now - KEEP))
            changed = connection.execute(
                update(MOODLE_EVENTS).where(MOODLE_EVENTS.c.booking_uid == uid).values(**values)
            )
            if not changed.rowcount:
                connection.execute(insert(MOODLE_EVENTS).values(booking_uid=uid, **values))


def reference(uid: str, sequence: int) -> str:
    """Names one version of one booking's event without saying anything about it."""
    return hashlib.sha256(f"peerline:moodle:{uid}:{sequence}".encode()).hexdigest()[:16]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
