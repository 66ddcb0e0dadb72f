"""Which program a Canvas or Moodle site serves: the one named, else the only school program."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.errors import NotFound
from core.services import programs
from core.services.access import Ctx


@dataclass(frozen=True)
class ProgramRef:
    """What the sync needs of its program to publish and book."""

    id: uuid.UUID
    slug: str
    time_zone: str
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    modes: tuple[str, ...]
    buffer_minutes: int
    crisis_lines: tuple[str, ...]  # "name: contact", for texts Canvas shows a student


def program_for(ctx: Ctx, configured: str | None) -> ProgramRef | None:
    """The configured program, or the only school program; None when there is no such one."""
    if configured:
        try:
            program = programs.get_program(ctx, configured)
        except NotFound:
            return None
    else:
        schools = [p for p in programs.list_programs(ctx) if p.kind == "school"]
        if len(schools) != 1:
            return None
        program = schools[0]
    lines = tuple(
        f"{r.name}: {r.contact}" for r in programs.crisis_resources_for(program) if r.contact
    )
    return ProgramRef(
        id=program.id,
        slug=program.slug,
        time_zone=program.time_zone,
        topics=tuple(program.topics),
        languages=tuple(program.languages),
        modes=tuple(program.modes),
        buffer_minutes=program.buffer_minutes,
        crisis_lines=lines,
    )
