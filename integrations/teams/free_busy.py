"""Supporters' Outlook free/busy, read on the worker's tick into the core's busy times.

Slot search reads only what this stored, so it never waits on Graph. Only the stretches are
kept (busy, away, tentative), never a subject, a place or who else is in a meeting.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from core.services import busy
from core.services.access import Ctx
from integrations.teams.graph import GraphClient, GraphError

log = logging.getLogger(__name__)
SOURCE = "teams"
LONGEST = timedelta(days=62)  # the longest stretch one getSchedule call is asked about


class FreeBusy:
    """A tick step that reads every Teams supporter's free/busy once per `every`."""

    def __init__(self, graph: GraphClient, *, every: timedelta) -> None:
        self._graph = graph
        self._every = every
        self._next: datetime | None = None
        self._lock = threading.Lock()

    def refresh(self, ctx: Ctx) -> int:
        """Read free/busy if a round is due; returns how many supporters' times were stored."""
        with self._lock:
            if self._next is not None and ctx.now < self._next:
                return 0
            self._next = ctx.now + self._every
        owners = busy.calendar_owners(ctx, "teams")
        ctx.session.rollback()  # hold no transaction (SQLite's write lock) while Graph answers
        stored = 0
        for owner in owners:
            end = ctx.now + min(timedelta(days=owner.horizon_days + 1), LONGEST)
            try:
                stretches = self._graph.busy_times(owner.address, ctx.now, end)
            except GraphError as error:
                log.warning(
                    "free/busy of supporter %s not read (%s)", owner.supporter_id, error.reason
                )
                if not error.permanent:
                    break  # Graph is struggling or throttling us: the next round carries on
                continue
            busy.replace(ctx, owner.supporter_id, SOURCE, stretches, start=ctx.now, end=end)
            stored += 1
        busy.forget_others(ctx, SOURCE, {owner.supporter_id for owner in owners})
        return stored
