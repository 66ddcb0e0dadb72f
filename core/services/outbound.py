"""Plugins' own messages (a relayed chat line, a card refresh) through the same durable outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from core.errors import Forbidden
from core.notify.outbox import stage
from core.ports import Notification
from core.services.access import Ctx

MAX_KEY = 200


def queue(ctx: Ctx, notifications: Iterable[Notification]) -> list[uuid.UUID]:
    """Decide messages durably; each goes out once, retried and dead-lettered like any other.

    Committed with the caller's unit of work; a dedupe key seen before is skipped.
    """
    if ctx.principal.role not in ("system", "service"):
        raise Forbidden("only an integration or the system may queue messages")
    notes = list(notifications)
    for note in notes:
        if not note.dedupe_key or len(note.dedupe_key) > MAX_KEY:
            raise ValueError(f"a dedupe key is 1 to {MAX_KEY} characters")
        scope = ctx.principal.program_id
        if ctx.principal.role == "service" and scope is not None and scope != note.program_id:
            raise Forbidden("a service token queues messages for its own program only")
    return stage(ctx.session, notes, ctx.now)
