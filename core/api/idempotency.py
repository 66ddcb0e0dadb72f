"""Idempotency-Key on POSTs: a retried request gets the first answer instead of acting twice.

The key is remembered per caller (token, or 'anonymous' with the key itself as the secret)
for a day. A first attempt still running answers a concurrent retry with 409; an attempt
that failed is forgotten, so the retry runs again (failures store nothing).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, ValidationFailed
from core.models import IdempotencyRecord
from core.runtime import db_session, runtime
from core.services.access import Principal

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Attempt:
    record_id: uuid.UUID


def start(principal: Principal) -> Attempt | Response | None:
    """None without a key; a stored Response to replay; or an Attempt to finish later."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"{HEADER}: 1 to {MAX_KEY_LENGTH} printable characters", field=HEADER
        )
    scope = principal.actor if principal.token_id else principal.role
    key_hash = _digest(f"{scope}\x00{key}")
    fingerprint = _digest(f"{request.method}\x00{request.path}\x00", request.get_data())
    now = runtime().clock.now()
    session = db_session()  # the request's own session: one connection, no self-locking
    found = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key_hash == key_hash))
    if found is not None and _outlived(found, now):
        session.delete(found)
        session.flush()
        found = None
    if found is not None:
        return _replay(found, fingerprint, now)
    record = IdempotencyRecord(
        id=uuid.uuid4(), key_hash=key_hash, fingerprint=fingerprint, created_at=now
    )
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"a request with this {HEADER} is already being handled", field=HEADER
        ) from None
    return Attempt(record.id)


def _outlived(found: IdempotencyRecord, now: datetime) -> bool:
    """Past the day it is kept, or a first attempt that died before it could finish."""
    if found.status is None:
        return found.created_at + ABANDONED_AFTER <= now
    return found.created_at + KEEP_FOR <= now


def _replay(found: IdempotencyRecord, fingerprint: str, now: datetime) -> Response:
    if found.fingerprint != fingerprint:
        raise ValidationFailed(f"{HEADER}: already used for a different request", field=HEADER)
    if found.status is None or found.body is None:
        raise Conflict(
            f"a request with this {HEADER} is already being handled; retry shortly", field=HEADER
        )
    body = runtime().cipher.decrypt(found.body)
    replay = Response(body, status=found.status, mimetype="application/json")
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def finish(attempt: Attempt, response: Response) -> None:
    """Remember a success; forget a failure so that a retry runs again."""
    session = db_session()
    record = session.get(IdempotencyRecord, attempt.record_id)
    if record is None:
        return
    if response.status_code < 300:
        record.status = response.status_code
        record.body = runtime().cipher.encrypt(response.get_data(as_text=True))
    else:
        session.delete(record)
    session.commit()


def forget(attempt: Attempt) -> None:
    session = db_session()
    session.rollback()  # whatever the failed attempt left half-done
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == attempt.record_id))
    session.commit()


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
    return hasher.hexdigest()
