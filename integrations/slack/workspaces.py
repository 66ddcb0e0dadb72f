"""Which PeerLine program a Slack workspace belongs to, and units of work acting for it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.services import programs
from core.services.access import Ctx, Principal
from integrations.slack.settings import SlackSettings
from integrations.slack.storage import WORKSPACES

if TYPE_CHECKING:
    from core.runtime import Runtime


def program_slug(runtime: Runtime, settings: SlackSettings, team_id: str | None) -> str | None:
    """The linked program: the link table, else SLACK_PROGRAM, else the only workplace program.

    The last is what makes `peerline demo` with a bot token work at once.
    """
    if team_id:
        with runtime.engine.connect() as connection:
            program_id = connection.scalar(
                select(WORKSPACES.c.program_id).where(WORKSPACES.c.team_id == team_id)
            )
        if program_id is not None:
            return _slug_of(runtime, program_id)
    if settings.program is not None:
        return settings.program
    ctx = runtime.system_ctx()
    with ctx.session:
        return programs.sole_workplace(ctx)


def _slug_of(runtime: Runtime, program_id: uuid.UUID) -> str | None:
    ctx = runtime.system_ctx()
    with ctx.session:
        found = [p.slug for p in programs.list_programs(ctx) if p.id == program_id]
    return found[0] if found else None


def link(runtime: Runtime, team_id: str, slug: str, enterprise_id: str | None = None) -> None:
    """Link (or re-link) a workspace to a program."""
    ctx = runtime.system_ctx()
    with ctx.session:
        program_id = programs.get_program(ctx, slug).id
    with runtime.engine.begin() as connection:
        connection.execute(WORKSPACES.delete().where(WORKSPACES.c.team_id == team_id))
        connection.execute(
            WORKSPACES.insert().values(
                team_id=team_id,
                enterprise_id=enterprise_id,
                program_id=program_id,
                linked_at=runtime.clock.now(),
            )
        )


def service_ctx(runtime: Runtime, slug: str) -> Ctx:
    """A unit of work with the powers of the program's integration, nothing more."""
    ctx = runtime.system_ctx()
    with ctx.session:
        program_id = programs.get_program(ctx, slug).id
    return Ctx(
        session=runtime.session_factory(),
        principal=Principal(role="service", program_id=program_id),
        now=runtime.clock.now(),
        cipher=runtime.cipher,
    )
