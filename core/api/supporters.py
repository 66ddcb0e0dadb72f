"""/api/v1/supporters: roster, trainings, weekly availability and date overrides."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field

from core.api.context import ctx
from core.api.framework import ApiBlueprint
from core.errors import ValidationFailed
from core.models import Program
from core.schemas.common import CalendarDate, Query
from core.schemas.supporters import (
    AvailabilityIn,
    AvailabilityOut,
    OverrideIn,
    OverrideOut,
    SupporterIn,
    SupporterOut,
    SupporterPatch,
    SupporterQuery,
    TrainingIn,
    TrainingOut,
)
from core.services import availability, programs, roster
from core.services.access import Ctx

bp = ApiBlueprint("supporters", __name__, tag="supporters")
STAFF = {"admin", "coordinator"}
READERS = {"admin", "coordinator", "service", "supporter"}


class ProgramQuery(Query):
    program: str | None = Field(None, description="Program slug; default the token's program")


class OverrideQuery(Query):
    since: CalendarDate | None = None


def _program(c: Ctx, slug: str | None) -> Program:
    if slug is None:
        if c.principal.program_id is None:
            raise ValidationFailed("program: give the program slug", field="program")
        return c.session.get_one(Program, c.principal.program_id)
    return programs.get_program(c, slug)


def _out(c: Ctx, supporter_id: uuid.UUID) -> SupporterOut:
    supporter, program = roster.get_supporter(c, supporter_id)
    return roster.supporter_out(
        supporter, program, c.now.astimezone(ZoneInfo(program.time_zone)).date()
    )


@bp.operation(
    "GET",
    "/supporters",
    summary="Search the roster",
    roles={"admin", "coordinator", "service"},
    query=SupporterQuery,
    response=list[SupporterOut],
)
def list_supporters(principal: Any, query: SupporterQuery) -> list[SupporterOut]:
    c = ctx()
    program = _program(c, query.program)
    today = c.now.astimezone(ZoneInfo(program.time_zone)).date()
    return [
        roster.supporter_out(s, program, today) for s in roster.list_supporters(c, program, query)
    ]


@bp.operation(
    "POST",
    "/supporters",
    summary="Add a supporter",
    roles={"admin"},
    query=ProgramQuery,
    body=SupporterIn,
    response=SupporterOut,
    status=201,
    errors=(409,),
)
def add_supporter(principal: Any, query: ProgramQuery, body: SupporterIn) -> SupporterOut:
    c = ctx()
    supporter = roster.add_supporter(c, _program(c, query.program), body)
    return _out(c, supporter.id)


@bp.operation(
    "GET",
    "/supporters/<uuid:supporter_id>",
    summary="One supporter, with why they are (not) matchable",
    roles=READERS,
    response=SupporterOut,
    errors=(404,),
)
def get_supporter(principal: Any, supporter_id: uuid.UUID) -> SupporterOut:
    return _out(ctx(), supporter_id)


@bp.operation(
    "PATCH",
    "/supporters/<uuid:supporter_id>",
    summary="Edit a supporter",
    roles={"admin"},
    body=SupporterPatch,
    response=SupporterOut,
    errors=(404, 409),
)
def update_supporter(principal: Any, supporter_id: uuid.UUID, body: SupporterPatch) -> SupporterOut:
    c = ctx()
    roster.update_supporter(c, supporter_id, body)
    return _out(c, supporter_id)


def _status_operation(path: str, status: str, summary: str, roles: set[str]) -> None:
    def change(principal: Any, supporter_id: uuid.UUID) -> SupporterOut:
        c = ctx()
        roster.set_status(c, supporter_id, status)
        return _out(c, supporter_id)

    change.__name__ = f"{path}_supporter"
    bp.operation(
        "POST",
        f"/supporters/<uuid:supporter_id>/{path}",
        summary=summary,
        roles=roles,
        response=SupporterOut,
        errors=(404, 409),
    )(change)


class PauseQuery(Query):
    until: CalendarDate | None = Field(
        None, description="The pause ends by itself on this date (program time zone)"
    )


@bp.operation(
    "POST",
    "/supporters/<uuid:supporter_id>/pause",
    summary="Pause at once (optionally until a date): no new offers or slots",
    roles=STAFF | {"supporter"},
    query=PauseQuery,
    response=SupporterOut,
    errors=(404, 409),
)
def pause_supporter(principal: Any, supporter_id: uuid.UUID, query: PauseQuery) -> SupporterOut:
    c = ctx()
    roster.set_status(c, supporter_id, "paused", until=query.until)
    return _out(c, supporter_id)


_status_operation("resume", "active", "Resume after a pause", STAFF | {"supporter"})
_status_operation(
    "offboard", "offboarded", "Offboard: keeps history, deletes contact data", {"admin"}
)


@bp.operation(
    "GET",
    "/supporters/<uuid:supporter_id>/trainings",
    summary="Training records",
    roles=READERS,
    response=list[TrainingOut],
    errors=(404,),
)
def list_trainings(principal: Any, supporter_id: uuid.UUID) -> list[TrainingOut]:
    supporter, _ = roster.get_supporter(ctx(), supporter_id)
    return [TrainingOut.model_validate(t) for t in supporter.trainings]


@bp.operation(
    "POST",
    "/supporters/<uuid:supporter_id>/trainings",
    summary="Record a training",
    roles=STAFF,
    body=TrainingIn,
    response=TrainingOut,
    status=201,
    errors=(404,),
)
def add_training(principal: Any, supporter_id: uuid.UUID, body: TrainingIn) -> TrainingOut:
    return TrainingOut.model_validate(roster.add_training(ctx(), supporter_id, body))


@bp.operation(
    "DELETE",
    "/supporters/<uuid:supporter_id>/trainings/<uuid:training_id>",
    summary="Delete a training record",
    roles=STAFF,
    errors=(404,),
)
def delete_training(principal: Any, supporter_id: uuid.UUID, training_id: uuid.UUID) -> None:
    roster.delete_training(ctx(), supporter_id, training_id)


@bp.operation(
    "GET",
    "/supporters/<uuid:supporter_id>/availability",
    summary="Weekly hours in the supporter's time zone",
    roles=READERS,
    response=AvailabilityOut,
    errors=(404,),
)
def get_availability(principal: Any, supporter_id: uuid.UUID) -> AvailabilityOut:
    return availability.get_weekly(ctx(), supporter_id)


@bp.operation(
    "PUT",
    "/supporters/<uuid:supporter_id>/availability",
    summary="Replace weekly hours",
    roles=STAFF | {"supporter"},
    body=AvailabilityIn,
    response=AvailabilityOut,
    errors=(404,),
)
def set_availability(
    principal: Any, supporter_id: uuid.UUID, body: AvailabilityIn
) -> AvailabilityOut:
    return availability.set_weekly(ctx(), supporter_id, body)


@bp.operation(
    "GET",
    "/supporters/<uuid:supporter_id>/overrides",
    summary="Date overrides",
    roles=READERS,
    query=OverrideQuery,
    response=list[OverrideOut],
    errors=(404,),
)
def list_overrides(
    principal: Any, supporter_id: uuid.UUID, query: OverrideQuery
) -> list[OverrideOut]:
    return availability.list_overrides(ctx(), supporter_id, query.since)


@bp.operation(
    "POST",
    "/supporters/<uuid:supporter_id>/overrides",
    summary="Add time off or extra hours on a date",
    roles=STAFF | {"supporter"},
    body=OverrideIn,
    response=OverrideOut,
    status=201,
    errors=(404,),
)
def add_override(principal: Any, supporter_id: uuid.UUID, body: OverrideIn) -> OverrideOut:
    return availability.add_override(ctx(), supporter_id, body)


@bp.operation(
    "DELETE",
    "/supporters/<uuid:supporter_id>/overrides/<uuid:override_id>",
    summary="Remove a date override",
    roles=STAFF | {"supporter"},
    errors=(404,),
)
def delete_override(principal: Any, supporter_id: uuid.UUID, override_id: uuid.UUID) -> None:
    availability.delete_override(ctx(), supporter_id, override_id)
