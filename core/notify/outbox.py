"""The transactional outbox: deliveries are written in the same commit as the change they report.

A process that dies right after committing loses nothing: the rows are there, and
the worker's tick finds any that were never handed to the queue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import SessionFactory
from core.events import DomainEvent
from core.models import Delivery
from core.notify.router import ExtraRoute, notifications_for
from core.ports import Notification

log = logging.getLogger(__name__)
AfterCommit = Callable[[list[uuid.UUID], list[DomainEvent]], None]


@dataclass
class Outbox:
    """Per app: plugins' extra routes, and what to do once deliveries are committed."""

    after_commit: AfterCommit | None = None
    routes: list[ExtraRoute] = field(default_factory=list)
    """Plugins' own notifications for domain events, staged with the core's."""


def outbox_of(session_factory: SessionFactory) -> Outbox:
    """The outbox every session of this app reports to (it travels in the sessions' info)."""
    with session_factory() as session:
        found = session.info.get("outbox")
    if not isinstance(found, Outbox):
        raise RuntimeError("this app's sessions have no outbox")
    return found


def stage(
    session: Session, notifications: Iterable[Notification], now: datetime
) -> list[uuid.UUID]:
    """Insert deliveries; one whose dedupe key exists already is skipped (decided twice = once).

    Deliveries in no order are inserted together, one statement for the lot; one in an order
    is stamped after the last of its order, so it goes in alone, in turn.
    """
    statement = _INSERTS[session.get_bind().dialect.name]
    added: list[uuid.UUID] = []
    batch: list[dict[str, Any]] = []
    for note in notifications:
        if note.order_key is None:
            batch.append(_row(note, now, now))
            continue
        added += _insert(session, statement, batch)
        batch = []
        added += _insert(session, statement, [_row(note, now, _in_order(session, note, now))])
    added += _insert(session, statement, batch)
    remember_for_queue(session, added)
    return added


def _insert_of(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, Delivery.__table__)  # Core: no ORM bookkeeping for plain rows
    return insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)


_INSERTS = {dialect: _insert_of(dialect) for dialect in ("postgresql", "sqlite")}
"""Built once: every commit with news runs one."""


def _insert(session: Session, statement: Any, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """The ids of the rows inserted (not skipped), in the rows' order."""
    if not rows:
        return []
    inserted = set(session.execute(statement, rows[0] if len(rows) == 1 else rows).scalars())
    return [row["id"] for row in rows if row["id"] in inserted]


def _in_order(session: Session, note: Notification, now: datetime) -> datetime:
    """Within an order key, a message is stamped after the one decided before it, even in the
    same instant (one transaction), since delivery order follows the stamp."""
    if note.order_key is None:
        return now
    last = session.scalar(
        select(func.max(Delivery.created_at)).where(Delivery.order_key == note.order_key)
    )
    return now if last is None or last < now else last + timedelta(microseconds=1)


def remember_for_queue(session: Session, delivery_ids: list[uuid.UUID]) -> None:
    """Hand these deliveries to the queue once the session commits."""
    session.info.setdefault("new_deliveries", []).extend(delivery_ids)


def _row(note: Notification, now: datetime, stamp: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "dedupe_key": note.dedupe_key[:200],
        "program_id": note.program_id,
        "audience": note.audience,
        "kind": note.kind,
        "request_id": note.request_id,
        "supporter_id": note.supporter_id,
        "data": note.data,
        "order_key": note.order_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": stamp,
    }


def bind_to_sessions() -> None:
    """Install the commit hooks once per process; sessions opt in with info["outbox"]."""
    if sa_event.contains(Session, "before_commit", _before_commit):
        return
    sa_event.listen(Session, "before_commit", _before_commit)
    sa_event.listen(Session, "after_commit", _after_commit)
    sa_event.listen(Session, "after_soft_rollback", _after_rollback)


def _before_commit(session: Session) -> None:
    if "outbox" not in session.info:
        return
    pending: list[DomainEvent] = session.info.get("pending_events") or []
    routed = session.info.get("routed_events", 0)
    if len(pending) <= routed:
        return
    session.flush()
    outbox: Outbox = session.info["outbox"]
    for domain_event in pending[routed:]:
        found = notifications_for(session, domain_event)
        found += _plugin_notifications(outbox, session, domain_event)
        stage(session, found, domain_event.at)
    session.info["routed_events"] = len(pending)
    session.info["committed_events"] = list(pending)


def _plugin_notifications(
    outbox: Outbox, session: Session, domain_event: DomainEvent
) -> list[Notification]:
    """A failing plugin route is logged and skipped: it must not undo the change it reports."""
    found: list[Notification] = []
    for route in outbox.routes:
        try:
            found += route(session, domain_event)
        except Exception:
            log.exception("plugin route %r failed for %s", route, type(domain_event).__name__)
    return found


def _after_commit(session: Session) -> None:
    outbox: Outbox | None = session.info.get("outbox")
    added = session.info.pop("new_deliveries", [])
    committed = session.info.pop("committed_events", [])
    session.info.pop("routed_events", None)
    if outbox is None or outbox.after_commit is None or not (added or committed):
        return
    try:
        outbox.after_commit(added, committed)
    except Exception:  # the queue is down: the worker's tick picks the rows up later
        log.warning("could not hand %d deliveries to the job queue; the tick will", len(added))


def _after_rollback(session: Session, _previous: Any) -> None:
    for key in ("new_deliveries", "committed_events", "routed_events"):
        session.info.pop(key, None)
