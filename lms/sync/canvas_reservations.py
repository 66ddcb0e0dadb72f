"""Canvas reservations become core bookings, and a reservation deleted in Canvas cancels one.

A reservation's row is written in the same transaction as its booking (the Canvas route
fills in the booking's id there), so a poll that dies half-way books nothing twice. The
core may refuse (the time was taken meanwhile, the supporter paused): the reservation is
then released in Canvas through a durable delivery whose reason Canvas shows the student.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Insert, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import PeerLineError
from core.notify.kinds import VIA
from core.ports import Notification
from core.services import bookings, lms_sync_data, outbound
from core.services.access import Ctx
from lms.sync.canvas_slots import Reservation, Slot
from lms.sync.program import ProgramRef
from lms.sync.storage import CANVAS_RESERVATIONS

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
KIND = "canvas_reservation"
CHANNEL = "canvas_calendar"
PLATFORM = "canvas"
TAKEN = (
    "Sorry: this time could not be booked after all (it was taken just before you chose "
    "it, or is now too soon), so your reservation was cancelled. Please choose another time."
)
NOT_CRISIS = "This is not a crisis service. If you need help now:"


@dataclass(frozen=True)
class Week:
    """One supporter's week in Canvas: their free times, and what a booking there is."""

    supporter_id: uuid.UUID
    start: datetime
    end: datetime
    alias: str
    language: str
    free: tuple[tuple[datetime, datetime], ...]


class Reservations:
    """Turns what one group's poll shows into bookings and cancellations."""

    def __init__(self, runtime: Runtime, *, topic: str, mode: str) -> None:
        self._runtime = runtime
        self._topic = topic
        self._mode = mode

    def reconcile(self, program: ProgramRef, group_id: str, week: Week, slots: list[Slot]) -> int:
        """Book new reservations, cancel bookings whose reservation is gone; how many changed."""
        present = {r.id: (slot, r) for slot in slots for r in slot.reservations}
        with self._runtime.engine.connect() as connection:
            rows = connection.execute(
                select(CANVAS_RESERVATIONS).where(CANVAS_RESERVATIONS.c.group_id == group_id)
            ).all()
        known = {row.reservation_id: row for row in rows}
        changed = 0
        for reservation_id, (slot, reservation) in present.items():
            if reservation_id not in known:
                changed += self._book(program, group_id, week, slot, reservation)
        now = self._runtime.clock.now()
        for row in rows:
            if row.reservation_id not in present and row.state == "booked" and row.starts_at > now:
                changed += self._cancelled_in_canvas(row.reservation_id)
        return changed

    def _book(
        self, program: ProgramRef, group_id: str, week: Week, slot: Slot, reservation: Reservation
    ) -> int:
        ctx = self._runtime.system_ctx()
        wanted = lms_sync_data.NamedSlot(
            program=program.slug,
            supporter_id=week.supporter_id,
            starts_at=slot.start,
            topic=self._topic,
            mode=self._mode,
            language=week.language,
        )
        with ctx.session:
            if not reservation.user_id:  # a group's reservation: nobody to book for
                self._release(ctx, program, group_id, week, slot, reservation)
                return 1
            try:
                ctx.session.execute(
                    _row(reservation.id, group_id, week.supporter_id, slot, "booked")
                )
                lms_sync_data.book_named(
                    ctx, wanted, platform=PLATFORM, subject=reservation.user_id
                )
            except IntegrityError:  # another worker took this reservation first
                ctx.session.rollback()
                return 0
            except PeerLineError as refusal:
                ctx.session.rollback()
                self._release(ctx, program, group_id, week, slot, reservation)
                log.info("a Canvas reservation could not be booked (%s); released", refusal.code)
            return 1

    def _release(
        self,
        ctx: Ctx,
        program: ProgramRef,
        group_id: str,
        week: Week,
        slot: Slot,
        reservation: Reservation,
    ) -> None:
        """Note the reservation and queue its deletion in Canvas, with the reason, in one commit."""
        ctx.session.execute(_row(reservation.id, group_id, week.supporter_id, slot, "released"))
        reason = " ".join((TAKEN, NOT_CRISIS, "; ".join(program.crisis_lines)))
        note = Notification(
            dedupe_key=f"{KIND}:released:{reservation.id}",
            program_id=program.id,
            audience="supporter",
            kind=KIND,
            supporter_id=week.supporter_id,
            data={
                VIA: CHANNEL,
                "method": "CANCEL",
                "reservation_id": reservation.id,
                "reason": reason,
            },
        )
        outbound.queue(ctx, [note])
        ctx.session.commit()

    def _cancelled_in_canvas(self, reservation_id: str) -> int:
        """The student deleted their reservation: their booking is cancelled, by them."""
        ctx = self._runtime.system_ctx()
        with ctx.session:
            row = ctx.session.execute(
                select(CANVAS_RESERVATIONS).where(
                    CANVAS_RESERVATIONS.c.reservation_id == reservation_id,
                    CANVAS_RESERVATIONS.c.state == "booked",
                )
            ).first()
            if row is None:
                return 0
            booking_id = row.booking_id or lms_sync_data.booking_at(
                ctx.session, row.supporter_id, row.starts_at
            )
            ctx.session.execute(
                update(CANVAS_RESERVATIONS)
                .where(CANVAS_RESERVATIONS.c.reservation_id == reservation_id)
                .values(state="gone")
            )
            facts = lms_sync_data.booking_facts(ctx.session, booking_id) if booking_id else None
            if facts is None or facts.status != "confirmed":
                ctx.session.commit()
                return 1
            # Canvas lets a student delete a reservation until it starts; PeerLine cannot
            # refuse that, so the cut-off for requesters' changes does not apply here.
            booking = bookings.get_booking(ctx, facts.id)
            bookings.cancel_in_place(ctx, booking, by="requester")
            ctx.session.commit()
            return 1


def _row(
    reservation_id: str, group_id: str, supporter_id: uuid.UUID, slot: Slot, state: str
) -> Insert:
    return CANVAS_RESERVATIONS.insert().values(
        reservation_id=reservation_id,
        group_id=group_id,
        supporter_id=supporter_id,
        starts_at=slot.start,
        ends_at=slot.end,
        booking_id=None,
        state=state,
    )
