"""Canvas Scheduler sync: supporters' free times as appointment groups, reservations as bookings.

Every LMS_CANVAS_POLL_MINUTES the worker's tick publishes each supporter's free times for the
coming LMS_CANVAS_DAYS as one appointment group per supporter and week in the program course,
and reads the reservations (Canvas does not push). One group per supporter shows the student
whom they book and keeps supporters' overlapping times apart; one per week keeps each poll
small (past weeks are no longer read) and matches the weekly cap. A round is idempotent, and
one worker at a time runs it (an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.services import programs, slots
from core.services.access import Ctx
from lms.sync import canvas_slots as plan
from lms.sync.canvas_client import CanvasClient
from lms.sync.canvas_reservations import Reservations, Week
from lms.sync.canvas_tokens import CanvasConnections, CanvasError
from lms.sync.program import ProgramRef, program_for
from lms.sync.settings import SyncSettings
from lms.sync.storage import CANVAS_GROUPS, CANVAS_RESERVATIONS

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
KEEP = timedelta(days=2)  # rows of weeks and sessions over are swept this long after
DESCRIPTION = (
    "A confidential chat with a trained peer supporter. Booking here is not anonymous: "
    "the supporter and the program's staff in this course see your name. To stay "
    "anonymous, book through the program's PeerLine page instead. This is not a crisis "
    "service: if you need help now, call your local emergency number or a crisis line."
)
_local_round = threading.Lock()


class CanvasSync:
    """A tick step: one publish-and-poll round per `every`."""

    def __init__(
        self,
        runtime: Runtime,
        settings: SyncSettings,
        client: CanvasClient,
        connections: CanvasConnections,
        *,
        every: timedelta,
    ) -> None:
        assert settings.canvas_course is not None
        self._runtime = runtime
        self._settings = settings
        self._course = settings.canvas_course
        self._client = client
        self._connections = connections
        self._every = every
        self._next: datetime | None = None
        self._lock = threading.Lock()

    def step(self, ctx: Ctx) -> int:
        """Publish and poll if a round is due; returns how many slots and bookings changed."""
        with self._lock:
            if self._next is not None and ctx.now < self._next:
                return 0
            self._next = ctx.now + self._every
        program = program_for(ctx, self._settings.canvas_program)
        if program is None:
            log.warning("Canvas sync: no program (set LMS_CANVAS_PROGRAM)")
            return 0
        ctx.session.rollback()  # hold no transaction (SQLite's write lock) while others write
        if not self._connections.connected(program.id):
            return 0  # until an admin connects (or after Canvas refused): /lms/canvas/status
        weeks = self._plan(ctx, program)
        ctx.session.rollback()  # ... nor while Canvas answers
        with one_round(self._runtime.engine, f"lms-canvas:{program.id}") as mine:
            if not mine:
                return 0
            changed = 0
            for week, row in weeks:
                try:
                    changed += self._sync_week(program, week, row)
                except CanvasError as error:
                    log.warning("Canvas sync of a week stopped (%s)", error.reason)
                    break  # throttled, down or refused: the next round carries on
            self._sweep()
            return changed

    def _plan(self, ctx: Ctx, program: ProgramRef) -> list[tuple[Week, Any]]:
        """Every supporter-week with free times, and every group still to be read."""
        zone = ZoneInfo(program.time_zone)
        found = slots.search(
            ctx,
            programs.get_program(ctx, program.slug),
            slots.SlotFilter(
                start=ctx.now,
                end=ctx.now + timedelta(days=self._settings.canvas_days),
                topic=self.topic(program),
                mode=self.mode(program),
            ),
        )
        weeks: dict[tuple[Any, datetime], Week] = {}
        for slot in found:
            start, end = plan.week_of(slot.interval.start, zone)
            key = (slot.supporter.id, start)
            week = weeks.get(key) or Week(
                slot.supporter.id, start, end, slot.supporter.alias, _language(program, slot), ()
            )
            span = (slot.interval.start, slot.interval.end)
            weeks[key] = replace(week, free=(*week.free, span))
        rows = ctx.session.execute(
            select(CANVAS_GROUPS).where(
                CANVAS_GROUPS.c.program_id == program.id, CANVAS_GROUPS.c.week_end > ctx.now
            )
        ).all()
        known = {(row.supporter_id, row.week_start): row for row in rows}
        for key, row in known.items():
            weeks.setdefault(
                key,
                Week(row.supporter_id, row.week_start, row.week_end, "", program.languages[0], ()),
            )
        return [
            (weeks[key], known.get(key)) for key in sorted(weeks, key=lambda k: (k[1], str(k[0])))
        ]

    def topic(self, program: ProgramRef) -> str:
        wanted = self._settings.canvas_topic or "general"
        return wanted if wanted in program.topics else program.topics[0]

    def mode(self, program: ProgramRef) -> str:
        wanted = self._settings.canvas_mode
        return wanted if wanted in program.modes else program.modes[0]

    def _sync_week(self, program: ProgramRef, week: Week, row: Any) -> int:
        group_id = row.group_id if row is not None else None
        if row is None and not week.free:
            return 0
        if group_id is None:
            group_id = self._ensure_group(program, week, row)
            if group_id is None:
                return 0
        try:
            slots_now = plan.parse_group(self._client.get_group(program.id, group_id))
        except CanvasError as error:
            if error.status != 404:
                raise
            log.warning("a Canvas appointment group was deleted in Canvas; it is made again")
            self._forget_group(group_id)
            return 0
        except (KeyError, ValueError, TypeError):
            raise CanvasError(permanent=False, reason="Canvas's group could not be read") from None
        reservations = Reservations(
            self._runtime, topic=self.topic(program), mode=self.mode(program)
        )
        changed = reservations.reconcile(program, group_id, week, slots_now)
        now = self._runtime.clock.now()
        todo = plan.changes(slots_now, week.free, _buffer(program), now)
        if todo.add:
            fields = [self._context(), *plan.new_appointments(todo.add)]
            self._client.update_group(program.id, group_id, fields)
        for slot in todo.drop:
            self._client.delete_event(program.id, slot.id)
        return changed + len(todo.add) + len(todo.drop)

    def _ensure_group(self, program: ProgramRef, week: Week, row: Any) -> str | None:
        """Make the week's group; one whose creation's answer was lost is found by its title."""
        if row is None:
            title = plan.title(week.alias, week.start, ZoneInfo(program.time_zone))
            if not self._claim(program, week, title):
                return None  # another worker is making it
        else:
            title = row.title
            for group in self._client.manageable_groups(program.id, self._course):
                if group.get("title") == title and group.get("id") is not None:
                    return self._made(week, str(group["id"]))
        first = plan.changes([], week.free, _buffer(program), self._runtime.clock.now()).add
        if not first:
            self._forget_week(week)
            return None
        fields = [
            self._context(),
            ("appointment_group[title]", title),
            ("appointment_group[description]", DESCRIPTION),
            ("appointment_group[participants_per_appointment]", "1"),
            ("appointment_group[max_appointments_per_participant]", "1"),
            ("appointment_group[participant_visibility]", "private"),
            ("appointment_group[publish]", "true"),
            *plan.new_appointments(first),
        ]
        made = self._client.create_group(program.id, fields)
        if made.get("id") is None:
            raise CanvasError(permanent=False, reason="Canvas's new group had no id")
        return self._made(week, str(made["id"]))

    def _context(self) -> tuple[str, str]:
        return ("appointment_group[context_codes][]", f"course_{self._course}")

    def _claim(self, program: ProgramRef, week: Week, title: str) -> bool:
        engine = self._runtime.engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(CANVAS_GROUPS).values(
            supporter_id=week.supporter_id,
            week_start=week.start,
            program_id=program.id,
            group_id=None,
            title=title,
            week_end=week.end,
        )
        with engine.begin() as connection:
            result = connection.execute(statement.on_conflict_do_nothing())
        return bool(result.rowcount)

    def _made(self, week: Week, group_id: str) -> str:
        with self._runtime.engine.begin() as connection:
            connection.execute(
                update(CANVAS_GROUPS)
                .where(
                    CANVAS_GROUPS.c.supporter_id == week.supporter_id,
                    CANVAS_GROUPS.c.week_start == week.start,
                )
                .values(group_id=group_id)
            )
        return group_id

    def _forget_week(self, week: Week) -> None:
        with self._runtime.engine.begin() as connection:
            connection.execute(
                delete(CANVAS_GROUPS).where(
                    CANVAS_GROUPS.c.supporter_id == week.supporter_id,
                    CANVAS_GROUPS.c.week_start == week.start,
                )
            )

    def _forget_group(self, group_id: str) -> None:
        with self._runtime.engine.begin() as connection:
            connection.execute(delete(CANVAS_GROUPS).where(CANVAS_GROUPS.c.group_id == group_id))

    def _sweep(self) -> None:
        """Rows of weeks and sessions long over: nothing will read or change them again."""
        before = self._runtime.clock.now() - KEEP
        with self._runtime.engine.begin() as connection:
            connection.execute(delete(CANVAS_GROUPS).where(CANVAS_GROUPS.c.week_end < before))
            connection.execute(
                delete(CANVAS_RESERVATIONS).where(CANVAS_RESERVATIONS.c.ends_at < before)
            )


def _language(program: ProgramRef, slot: slots.FoundSlot) -> str:
    spoken = [lang for lang in slot.supporter.languages if lang in program.languages]
    return spoken[0] if spoken else program.languages[0]


def _buffer(program: ProgramRef) -> timedelta:
    return timedelta(minutes=program.buffer_minutes)


@contextmanager
def one_round(engine: Engine, name: str) -> Iterator[bool]:
    """True for the one worker that may run this round now (SQLite: one process, one lock)."""
    if engine.dialect.name != "postgresql":
        mine = _local_round.acquire(blocking=False)
        try:
            yield mine
        finally:
            if mine:
                _local_round.release()
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with engine.connect() as connection:
        mine = bool(connection.execute(select(func.pg_try_advisory_lock(key))).scalar())
        connection.commit()
        try:
            yield mine
        finally:
            if mine:
                connection.execute(select(func.pg_advisory_unlock(key)))
                connection.commit()
