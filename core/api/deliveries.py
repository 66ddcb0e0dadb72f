"""/api/v1/deliveries: the program's outbound messages in aggregate, and dead letters to retry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.api.context import ctx
from core.api.framework import ApiBlueprint
from core.api.supporters import _program
from core.schemas.common import Out, Query
from core.services import dead_letters

bp = ApiBlueprint("deliveries", __name__, tag="deliveries")


class ProgramQuery(Query):
    program: str | None = None


class DeliverySummaryOut(Out):
    pending: int
    sent: int
    dead: int
    skipped: int


class DeadLetterOut(Out):
    """A message that could not be delivered; a requester is never identified."""

    id: uuid.UUID
    kind: str
    audience: str
    supporter_alias: str | None
    channel: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@bp.operation(
    "GET",
    "/deliveries/summary",
    summary="Counts of outbound messages by state (the dead-letter count among them)",
    roles={"admin", "coordinator"},
    query=ProgramQuery,
    response=DeliverySummaryOut,
)
def delivery_summary(principal: Any, query: ProgramQuery) -> DeliverySummaryOut:
    c = ctx()
    return DeliverySummaryOut(**dead_letters.summary(c, _program(c, query.program)))


@bp.operation(
    "GET",
    "/deliveries/dead",
    summary="Messages that failed for good, newest first",
    roles={"admin", "coordinator"},
    query=ProgramQuery,
    response=list[DeadLetterOut],
)
def list_dead_letters(principal: Any, query: ProgramQuery) -> list[DeadLetterOut]:
    c = ctx()
    return [
        DeadLetterOut(
            id=row.id,
            kind=row.kind,
            audience=row.audience,
            supporter_alias=alias,
            channel=row.channel,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )
        for row, alias in dead_letters.dead(c, _program(c, query.program))
    ]


@bp.operation(
    "POST",
    "/deliveries/<uuid:delivery_id>/retry",
    summary="Send a dead letter again, from its first attempt",
    roles={"admin", "coordinator"},
    errors=(404, 409),
)
def retry_dead_letter(principal: Any, delivery_id: uuid.UUID) -> None:
    dead_letters.retry(ctx(), delivery_id)
