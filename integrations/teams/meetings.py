"""Teams meetings for booked video sessions: an event in the supporter's calendar, via Graph.

A booking confirmed, moved or cancelled decides a `teams_meeting` notification in the same
transaction (the core's outbox), pinned to this channel. So making, moving and deleting the
event is durable, retried, dead-lettered, and done in order per booking; a retried POST
carries the same `transactionId`, so Graph never makes a second event. The event is neutral
("Peer chat"), private and has no attendees: the requester is anonymous and gets the join
link from PeerLine (`session_link`, to both sides), never an invite from someone's mailbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core import events
from core.notify import router
from core.notify.wording import instant
from core.ports import FORGET_AFTER_SENDING, DeliveryResult, Notification
from core.services import outbound, recipients
from core.services.access import SYSTEM, Ctx
from integrations.teams.connector import result_of
from integrations.teams.graph import GraphClient, GraphError, when
from integrations.teams.storage import MEETINGS

if TYPE_CHECKING:
    from core.runtime import Runtime

KIND = "teams_meeting"
CHANNEL = "teams_calendar"
SUBJECT = "Peer chat"
BODY = "A peer support session booked through PeerLine. Join with the Teams link."
KEEP = timedelta(days=2)  # after a session ends its row can go: nothing will move it again
METHODS: dict[type[events.DomainEvent], str] = {
    events.BookingConfirmed: "REQUEST",
    events.BookingRescheduled: "REQUEST",
    events.BookingCancelled: "CANCEL",
}


def route(session: Session, event: events.DomainEvent) -> list[Notification]:
    """Video bookings of supporters on Teams (or with a meeting already) get their event work."""
    if not isinstance(
        event, events.BookingConfirmed | events.BookingRescheduled | events.BookingCancelled
    ):
        return []
    note = router.about_booking(
        session, event.booking_id, KIND, via=CHANNEL, method=METHODS[type(event)]
    )
    booking = note.data["booking"]
    if booking["mode"] != "video":
        return []
    made = session.execute(
        select(MEETINGS.c.booking_uid).where(MEETINGS.c.booking_uid == booking["uid"])
    ).first()
    if made is None and _teams_id(Ctx(session, SYSTEM, event.at), note) is None:
        return []
    return [note]


def event_body(booking: dict[str, Any], owner: str) -> dict[str, Any]:
    """Nothing about the request: a neutral title, the times, a Teams meeting, no attendees."""
    return {
        "subject": SUBJECT,
        "body": {"contentType": "text", "content": BODY},
        **times(booking),
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "sensitivity": "private",
        "showAs": "busy",
        "attendees": [],
        "allowNewTimeProposals": False,
        "responseRequested": False,
        "transactionId": transaction_id(booking, owner),
    }


def times(booking: dict[str, Any]) -> dict[str, Any]:
    return {
        "start": when(instant(booking["starts_at"])),
        "end": when(instant(booking["ends_at"])),
    }


def transaction_id(booking: dict[str, Any], owner: str) -> str:
    """The same for every retry of one creation, so Graph answers with the first event."""
    seed = f"peerline:teams-meeting:{booking['uid']}:{owner}:{booking['sequence']}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


@dataclass(frozen=True)
class Record:
    owner_id: str
    event_id: str
    sequence: int
    link_sent: bool


class MeetingChannel:
    """Delivers `teams_meeting` work to Graph; the join link then goes to both sides."""

    name = CHANNEL

    def __init__(self, runtime: Runtime, graph: GraphClient) -> None:
        self._runtime = runtime
        self._graph = graph

    def can_reach(self, notification: Notification) -> bool:
        return notification.kind == KIND

    def deliver(self, notification: Notification) -> DeliveryResult:
        """Create, move or delete the event; Graph's faults become results."""
        try:
            booking = dict(notification.data["booking"])
            method = str(notification.data["method"])
            booking_id = uuid.UUID(str(notification.data["booking_id"]))
        except (KeyError, ValueError, TypeError) as error:
            detail = f"a {KIND} without its booking ({type(error).__name__})"
            return DeliveryResult(delivered=False, permanent=True, detail=detail)
        try:
            if method == "CANCEL":
                self._remove(str(booking["uid"]))
                return DeliveryResult(delivered=True)
            return self._ensure(notification, booking, booking_id)
        except GraphError as error:
            return result_of(error)

    def _ensure(
        self, notification: Notification, booking: dict[str, Any], booking_id: uuid.UUID
    ) -> DeliveryResult:
        """The event exists in the current supporter's calendar at the booking's times."""
        uid, sequence = str(booking["uid"]), int(booking["sequence"])
        owner = self._owner(notification)
        record = self._record(uid)
        if record is not None and record.owner_id != owner:  # moved to another supporter
            self._remove(uid)
            record = None
        if owner is None:
            detail = "the supporter has no Teams contact, so no meeting was made"
            return DeliveryResult(delivered=False, permanent=True, detail=detail)
        join: str | None = None
        if record is None:
            meeting = self._graph.create_event(owner, event_body(booking, owner))
            record = self._save(uid, owner, meeting.event_id, sequence, booking)
            join = meeting.join_url
        elif record.sequence < sequence:
            self._graph.update_event(owner, record.event_id, times(booking))
            self._moved(uid, sequence, booking)
        if record.link_sent:
            return DeliveryResult(delivered=True)
        join = join or self._graph.get_event(owner, record.event_id).join_url
        if join is None or not join.startswith("https://"):  # only Teams' own https links
            return DeliveryResult(delivered=False, detail="the meeting has no https join link yet")
        self._share(booking_id, uid, join)
        return DeliveryResult(delivered=True)

    def _share(self, booking_id: uuid.UUID, uid: str, join_url: str) -> None:
        """Queue the link to both sides and note it, in one commit: so it goes out once."""
        ctx = self._runtime.system_ctx()
        with ctx.session:
            notes = router.booking_news(
                ctx.session,
                booking_id,
                "session_link",
                join_url=join_url,
                **{FORGET_AFTER_SENDING: True},
            )
            outbound.queue(ctx, notes)
            ctx.session.execute(
                update(MEETINGS).where(MEETINGS.c.booking_uid == uid).values(link_sent=True)
            )
            ctx.session.commit()

    def _remove(self, uid: str) -> None:
        """Delete the booking's event, wherever it is; none on record is nothing to do."""
        record = self._record(uid)
        if record is None:
            return
        self._graph.delete_event(record.owner_id, record.event_id)
        with self._runtime.engine.begin() as connection:
            connection.execute(delete(MEETINGS).where(MEETINGS.c.booking_uid == uid))

    def _owner(self, notification: Notification) -> str | None:
        ctx = self._runtime.system_ctx()
        with ctx.session:
            return _teams_id(ctx, notification)

    def _record(self, uid: str) -> Record | None:
        with self._runtime.engine.connect() as connection:
            row = connection.execute(select(MEETINGS).where(MEETINGS.c.booking_uid == uid)).first()
        if row is None:
            return None
        return Record(row.owner_id, row.event_id, row.sequence, row.link_sent)

    def _save(
        self, uid: str, owner: str, event_id: str, sequence: int, booking: dict[str, Any]
    ) -> Record:
        """Note the new event; rows of sessions long over are swept as new ones come."""
        now = self._runtime.clock.now()
        with self._runtime.engine.begin() as connection:
            connection.execute(delete(MEETINGS).where(MEETINGS.c.ends_at < now - KEEP))
            connection.execute(
                MEETINGS.insert().values(
                    booking_uid=uid,
                    owner_id=owner,
                    event_id=event_id,
                    sequence=sequence,
                    link_sent=False,
                    ends_at=_ends(booking),
                )
            )
        return Record(owner, event_id, sequence, link_sent=False)

    def _moved(self, uid: str, sequence: int, booking: dict[str, Any]) -> None:
        with self._runtime.engine.begin() as connection:
            connection.execute(
                update(MEETINGS)
                .where(MEETINGS.c.booking_uid == uid)
                .values(sequence=sequence, ends_at=_ends(booking))
            )


def _teams_id(ctx: Ctx, notification: Notification) -> str | None:
    """The supporter's Entra object id: their calendar is `/users/{id}`."""
    return recipients.address_of(ctx, notification, "teams")


def _ends(booking: dict[str, Any]) -> datetime:
    return instant(booking["ends_at"])
