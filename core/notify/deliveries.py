"""Sending one delivery: claim it, pick a channel, record what the channel said.

Exactly once on PostgreSQL: a session-level advisory lock on the delivery is held
while it is sent, so two workers never send the same row, and a worker killed
mid-send releases it with its connection (no lease to wait out). SQLite is one
process, so an in-process lock does the same there.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db import unavailable
from core.models import Delivery
from core.notify.kinds import OPTIONAL, VIA
from core.ports import FORGET_AFTER_SENDING, DeliveryResult, Notification, NotificationChannel
from core.services import recipients

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
FIRST_RETRY = timedelta(seconds=30)
RECORD_PATIENCE = timedelta(seconds=15)  # longer than a database restart usually takes
RECORD_PAUSE_SECONDS = 0.5
IN_ORDER_PAUSE = timedelta(seconds=1)
LONGEST_RETRY = timedelta(hours=1)
_local_claims: set[uuid.UUID] = set()
_local_guard = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | retry | dead | skipped | busy | not_due
    retry_at: datetime | None = None


def backoff(
    attempts: int, retry_after: float | None, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with jitter, so retries spread out; a channel's Retry-After is obeyed."""
    ceiling: timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    jittered: timedelta = ceiling * (0.5 + 0.5 * (rng or random).random())
    if retry_after is not None:
        return max(timedelta(seconds=retry_after), timedelta(seconds=1))
    return jittered


def attempt(runtime: Runtime, delivery_id: uuid.UUID) -> Outcome:
    """Try to send one delivery now, if it is due and no other worker holds it.

    The claim's connection only holds the lock; the row is read and written in short
    transactions of their own. A database restart during a send ends every connection, the
    claim's too, yet the outcome is still recorded on a fresh one, rather than a sent
    message being left pending, to go out again.
    """
    with _claimed(runtime, delivery_id) as taken:
        if not taken:
            return Outcome("busy")
        with Session(bind=runtime.engine, expire_on_commit=False) as session:
            return _attempt(runtime, session, delivery_id)


def _attempt(runtime: Runtime, session: Session, delivery_id: uuid.UUID) -> Outcome:
    now = runtime.clock.now()
    row = session.get(Delivery, delivery_id, populate_existing=True)
    if row is None or row.status != "pending" or row.next_attempt_at > now:
        return Outcome("not_due")
    earlier = _earlier_in_order(session, row)
    if earlier is not None:  # a chat's lines go in the order they were written
        row.next_attempt_at = max(earlier.next_attempt_at, now) + IN_ORDER_PAUSE
        session.commit()
        return Outcome("retry", row.next_attempt_at)
    row.attempts += 1
    session.commit()  # a worker that dies from here on still counts the attempt
    note = notification_of(row)
    try:
        channel = choose_channel(runtime, note)
    except ChannelUndecided as undecided:  # no answer is not "nobody": try again later
        return _record(runtime, session, row, DeliveryResult(False, detail=str(undecided)), now)
    if channel is None:
        return _finish_unreachable(session, row, now)
    result = _send(channel, note)
    row.channel = channel.name
    return _record(runtime, session, row, result, now)


def _earlier_in_order(session: Session, row: Delivery) -> Delivery | None:
    """The oldest message still waiting ahead of this one under the same order key."""
    if row.order_key is None:
        return None
    return session.scalars(
        select(Delivery)
        .where(
            Delivery.order_key == row.order_key,
            Delivery.status == "pending",
            Delivery.id != row.id,
            (Delivery.created_at < row.created_at)
            | ((Delivery.created_at == row.created_at) & (Delivery.dedupe_key < row.dedupe_key)),
        )
        .order_by(Delivery.created_at, Delivery.dedupe_key)
        .limit(1)
    ).first()


def notification_of(row: Delivery) -> Notification:
    return Notification(
        dedupe_key=row.dedupe_key,
        program_id=row.program_id,
        audience=row.audience,  # type: ignore[arg-type]
        kind=row.kind,
        request_id=row.request_id,
        supporter_id=row.supporter_id,
        data=dict(row.data),
        order_key=row.order_key,
    )


class ChannelUndecided(Exception):
    """No channel said it reaches the recipient, and at least one could not answer."""


def choose_channel(runtime: Runtime, note: Notification) -> NotificationChannel | None:
    """Chat channels first (where people already are), e-mail last; a pinned one alone.

    None means no channel reaches the recipient. A channel that fails to answer (a bug, a
    lost database connection) is not taken for a no: a lost database connection propagates
    (the job is queued again), any other failure raises ChannelUndecided unless another
    channel reaches the recipient.
    """
    pinned = note.data.get(VIA)
    if isinstance(pinned, str):  # a plugin's own kind: only its channel may carry it
        found = runtime.channels.get(pinned)
        ordered = [found] if found is not None else []
    else:
        ordered = sorted(runtime.channels.values(), key=lambda c: c.name == "email")
    failed: list[str] = []
    for channel in ordered:
        try:
            if channel.can_reach(note):
                return channel
        except Exception as error:
            if unavailable(error):
                raise
            log.exception("channel %s failed to say whether it reaches a recipient", channel.name)
            failed.append(channel.name)
    if failed:
        names = ", ".join(failed)
        raise ChannelUndecided(f"{names} could not say whether it reaches the recipient")
    return None


def _send(channel: NotificationChannel, note: Notification) -> DeliveryResult:
    try:
        return channel.deliver(note)
    except Exception as exc:  # a bug or an unexpected fault: retried, and loud
        log.exception("channel %s raised while delivering %s", channel.name, note.kind)
        return DeliveryResult(delivered=False, detail=f"channel raised {type(exc).__name__}")


def _finish_unreachable(session: Session, row: Delivery, now: datetime) -> Outcome:
    """Dead when a channel should have reached the recipient; skipped when none was meant to."""
    if row.kind in OPTIONAL:
        row.status, row.finished_at = "skipped", now
        session.commit()
        return Outcome("skipped")
    if recipients.left_no_address(session, notification_of(row)):
        row.status, row.finished_at = "skipped", now
        row.last_error = "the requester left no address"
        session.commit()
        log.info("delivery %s (%s to the requester) skipped: no address given", row.id, row.kind)
        return Outcome("skipped")
    row.status, row.finished_at = "dead", now
    row.last_error = "no channel reaches this recipient"
    session.commit()
    log.warning(
        "delivery %s (%s to %s) dead: no channel reaches the recipient",
        row.id,
        row.kind,
        row.audience,
    )
    return Outcome("dead")


def _record(
    runtime: Runtime, session: Session, row: Delivery, result: DeliveryResult, now: datetime
) -> Outcome:
    if result.delivered:
        row.status, row.finished_at, row.last_error = "sent", now, None
        if row.data.get(FORGET_AFTER_SENDING):
            row.data = {FORGET_AFTER_SENDING: True}  # someone's words: kept no longer than needed
        _commit_sent(runtime, session, row)
        return Outcome("sent")
    row.last_error = (result.detail or "failed without a reason")[:300]
    if result.permanent or row.attempts >= runtime.settings.delivery_max_attempts:
        row.status, row.finished_at = "dead", now
        session.commit()
        log.warning(
            "delivery %s (%s by %s) dead after %d attempts: %s",
            row.id,
            row.kind,
            row.channel,
            row.attempts,
            row.last_error,
        )
        return Outcome("dead")
    row.next_attempt_at = now + backoff(row.attempts, result.retry_after_seconds)
    session.commit()
    log.info(
        "delivery %s (%s by %s) will retry at %s: %s",
        row.id,
        row.kind,
        row.channel,
        row.next_attempt_at.isoformat(),
        row.last_error,
    )
    return Outcome("retry", row.next_attempt_at)


def _commit_sent(runtime: Runtime, session: Session, row: Delivery) -> None:
    """The message is out: a connection lost meanwhile must not leave it pending, to go again.

    A database restart ends every connection; the outcome is written again on a fresh one
    for as long as a restart takes, then given up (the message may then go a second time).
    """
    values = {c: getattr(row, c) for c in ("status", "finished_at", "last_error", "channel")}
    values["data"] = row.data
    deadline = time.monotonic() + RECORD_PATIENCE.total_seconds()
    try:
        session.commit()
        return
    except DBAPIError as error:
        if not unavailable(error):
            raise
        with suppress(DBAPIError):
            session.rollback()
    while True:
        try:
            with Session(bind=runtime.engine) as again:
                again.execute(update(Delivery).where(Delivery.id == row.id).values(**values))
                again.commit()
            log.info("delivery %s sent; recorded after the database came back", row.id)
            return
        except DBAPIError as error:
            if not unavailable(error) or time.monotonic() > deadline:
                raise
        time.sleep(RECORD_PAUSE_SECONDS)


@contextmanager
def _claimed(runtime: Runtime, delivery_id: uuid.UUID) -> Iterator[bool]:
    """Hold the delivery for this worker alone while it is sent; False if another has it."""
    if runtime.engine.dialect.name != "postgresql":
        with _local_claim(delivery_id) as taken:
            yield taken
        return
    with runtime.engine.connect() as connection:
        key = _lock_key(delivery_id)
        taken = bool(connection.execute(select(func.pg_try_advisory_lock(key))).scalar())
        connection.commit()
        if not taken:
            yield False
            return
        try:
            yield True
        finally:
            _unlock(connection, key)


def _unlock(connection: Connection, key: int) -> None:
    try:
        connection.rollback()
        connection.execute(select(func.pg_advisory_unlock(key)))
        connection.commit()
    except Exception:  # the database went away: the lock went with the connection
        connection.invalidate()


@contextmanager
def _local_claim(delivery_id: uuid.UUID) -> Iterator[bool]:
    with _local_guard:
        if delivery_id in _local_claims:
            taken = False
        else:
            _local_claims.add(delivery_id)
            taken = True
    try:
        yield taken
    finally:
        if taken:
            with _local_guard:
                _local_claims.discard(delivery_id)


def _lock_key(delivery_id: uuid.UUID) -> int:
    """A signed 64-bit key from the id, in PeerLine's own range of advisory locks."""
    value = delivery_id.int >> 64
    return value - (1 << 64) if value >= (1 << 63) else value


def due(runtime: Runtime, overdue: timedelta = timedelta(0), limit: int = 500) -> list[uuid.UUID]:
    """Pending deliveries whose time came at least `overdue` ago, oldest first."""
    with runtime.session_factory() as session:
        return list(
            session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= runtime.clock.now() - overdue,
                )
                .order_by(Delivery.next_attempt_at, Delivery.created_at)  # in decided order
                .limit(limit)
            )
        )
