"""Which PeerLine program a Slack workspace belongs to, and units of work acting for it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from core.errors import NotFound
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
    ctx = runtime.system_ctx()
    with ctx.session:
        return linked_slug(ctx, settings, team_id)


def linked_slug(ctx: Ctx, settings: SlackSettings, team_id: str | None) -> str | None:
    """program_slug within the caller's unit of work, so a lookup and its use share one."""
    if team_id and (program_id := _linked_id(ctx, team_id)) is not None:
        program = _program_by_id(ctx, program_id)
        return program.slug if program is not None else None
    if settings.program is not None:
        return settings.program
    return programs.sole_workplace(ctx)


def linked_program(ctx: Ctx, settings: SlackSettings, team_id: str | None) -> Any:
    """The program linked_slug names, as the core's services hand it out, read once.

    None when no program is linked (or SLACK_PROGRAM names one that is gone). Typed Any, as
    plugins do not import the core's tables.
    """
    if team_id and (program_id := _linked_id(ctx, team_id)) is not None:
        return _program_by_id(ctx, program_id)
    slug = linked_slug(ctx, settings, None)
    try:
        return programs.get_program(ctx, slug) if slug else None
    except NotFound:
        return None


def _linked_id(ctx: Ctx, team_id: str) -> uuid.UUID | None:
    return ctx.session.scalar(_LINKED_ID, {"team_id": team_id})


# built once: every /peer reads it
_LINKED_ID = select(WORKSPACES.c.program_id).where(WORKSPACES.c.team_id == bindparam("team_id"))


def _program_by_id(ctx: Ctx, program_id: uuid.UUID) -> Any:
    found = programs.list_programs(as_service(ctx, program_id))
    return found[0] if found else None


def as_service(ctx: Ctx, program_id: uuid.UUID) -> Ctx:
    """The same unit of work with the powers of the program's integration, nothing more."""
    principal = Principal(role="service", program_id=program_id)
    return Ctx(session=ctx.session, principal=principal, now=ctx.now, cipher=ctx.cipher)


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
