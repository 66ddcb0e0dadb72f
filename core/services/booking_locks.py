"""A booking's row locks, in the order every path takes them: the supporter, then the request.

Each is one statement, built once (a booking runs them all on every call): the supporter
with their program when a requester's token named the program, and the open request locked
and marked scheduled at once, with whether its requester can be messaged.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, bindparam, exists, select, update
from sqlalchemy.orm import lazyload, with_expression

from core.db import UTCDateTime
from core.errors import Conflict, NotFound
from core.models import Program, RequesterIdentity, Supporter, SupportRequest
from core.services import matching
from core.services.access import Ctx


def lock_supporter(ctx: Ctx, program: Program, supporter_id: uuid.UUID) -> Supporter:
    """Row lock on PostgreSQL; on SQLite the BEGIN IMMEDIATE transaction already serializes."""
    supporter = ctx.session.scalar(
        select(Supporter)
        .where(Supporter.id == supporter_id, Supporter.program_id == program.id)
        .options(lazyload(Supporter.contacts), lazyload(Supporter.trainings))  # when needed
        .with_for_update()
    )
    if supporter is None:
        raise NotFound("no such supporter", field="supporter_id")
    return supporter


def lock_supporter_and_program(
    ctx: Ctx, program_id: uuid.UUID, supporter_id: uuid.UUID
) -> tuple[Program, Supporter]:
    """The supporter's row lock (as `lock_supporter`) and their program, in one query."""
    found = ctx.session.execute(
        _LOCK_WITH_PROGRAM, {"supporter_id": supporter_id, "program_id": program_id}
    ).first()
    if found is None:
        raise NotFound("no such supporter", field="supporter_id")
    supporter, program = found
    return program, supporter


_LOCK_WITH_PROGRAM = (  # built once: the booking path runs it on every booking
    select(Supporter, Program)
    .join(Program, Program.id == Supporter.program_id)
    .where(
        Supporter.id == bindparam("supporter_id", type_=Uuid),
        Supporter.program_id == bindparam("program_id", type_=Uuid),
    )
    .options(lazyload(Supporter.contacts), lazyload(Supporter.trainings))  # when needed
    .with_for_update(of=Supporter)  # the program row is only read
)


def schedule_request(
    ctx: Ctx, program: Program, supporter: Supporter, request_id: uuid.UUID
) -> SupportRequest:
    """Row-lock the open request and mark it scheduled with the supporter, in one statement.

    Whatever refuses the booking after this raises, and its transaction is rolled back
    (the API, the intake and every plugin drop a failed unit of work), this change with it.
    """
    params = {"request": request_id, "program": program.id, "to": supporter.id}
    request = ctx.session.scalars(_SCHEDULE, params | {"at": ctx.now}).first()
    if request is not None:
        return request
    found = matching.lock_request(ctx, request_id)  # not open, or not there: which one
    if found is None or found.program_id != program.id:
        raise NotFound("no such request", field="request_id")
    raise Conflict(
        f"this request is {found.status}; only an open request can be booked", field="request_id"
    )


# SQLite's RETURNING names columns bare, so inside the subquery `id` would be the identity's:
# the subquery exposes request_id alone, and `id` is the request's
_IDENTIFIED = select(RequesterIdentity.request_id).subquery("identified")

_SCHEDULE = (  # built once; lock order as everywhere: the supporter (held), then the request
    update(SupportRequest)
    .where(
        SupportRequest.id == bindparam("request", type_=Uuid),
        SupportRequest.program_id == bindparam("program", type_=Uuid),
        SupportRequest.status == "open",
    )
    .values(
        status="scheduled",
        supporter_id=bindparam("to", type_=Uuid),
        matched_at=bindparam("at", type_=UTCDateTime),
    )
    .returning(SupportRequest)
    .options(  # whether the requester can be told, which the outbox asks at commit
        with_expression(
            SupportRequest.has_identity,
            exists().where(_IDENTIFIED.c.request_id == SupportRequest.id),
        )
    )
    .execution_options(populate_existing=True, synchronize_session=False)
)
