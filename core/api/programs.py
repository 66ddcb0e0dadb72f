"""/api/v1/programs"""

from __future__ import annotations

from typing import Any

from core.api.context import ctx
from core.api.framework import ANONYMOUS, ApiBlueprint
from core.schemas.common import Locale, Query
from core.schemas.programs import IntakeOut, ProgramIn, ProgramOut, ProgramPatch
from core.services import programs

bp = ApiBlueprint("programs", __name__, tag="programs")


class IntakeQuery(Query):
    locale: Locale | None = None


@bp.operation(
    "GET",
    "/programs",
    summary="Programs this token may see",
    roles={"admin", "coordinator", "service"},
    response=list[ProgramOut],
)
def list_programs(principal: Any) -> list[ProgramOut]:
    return [programs.program_out(p) for p in programs.list_programs(ctx())]


@bp.operation(
    "POST",
    "/programs",
    summary="Create a program (deployment admin)",
    roles={"admin"},
    body=ProgramIn,
    response=ProgramOut,
    status=201,
    errors=(409,),
)
def create_program(principal: Any, body: ProgramIn) -> ProgramOut:
    return programs.program_out(programs.create_program(ctx(), body))


@bp.operation(
    "GET",
    "/programs/<slug>",
    summary="A program's settings",
    roles={"admin", "coordinator", "service"},
    response=ProgramOut,
    errors=(404,),
)
def get_program(principal: Any, slug: str) -> ProgramOut:
    return programs.program_out(programs.get_program(ctx(), slug))


@bp.operation(
    "PATCH",
    "/programs/<slug>",
    summary="Change a program's settings and policy",
    roles={"admin"},
    body=ProgramPatch,
    response=ProgramOut,
    errors=(404,),
)
def update_program(principal: Any, slug: str, body: ProgramPatch) -> ProgramOut:
    return programs.program_out(programs.update_program(ctx(), slug, body))


@bp.operation(
    "GET",
    "/programs/<slug>/intake",
    summary="Public: topics, languages, the 'not a crisis service' notice and crisis resources",
    roles={ANONYMOUS, "requester", "admin", "coordinator", "supporter", "service"},
    query=IntakeQuery,
    response=IntakeOut,
    errors=(404,),
)
def intake(principal: Any, slug: str, query: IntakeQuery) -> IntakeOut:
    return programs.intake(ctx(), slug, query.locale)
